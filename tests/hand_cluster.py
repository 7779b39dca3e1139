"""A Dask scheduler and workers started by hand, as an operator starts them, for the scale-out tests.

Each runs in its own session with its output in a log file; the tests kill their process groups
when done, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).with_name("dask")


def start_logged(argv: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def start_scheduler(directory: Path, idle_timeout: str) -> tuple[subprocess.Popen, str]:
    """A scheduler on a free local port, and its address once it has written it.

    The idle time-out ends it on its own should the test be killed before its cleanup runs.
    """
    scheduler_file = directory / "scheduler.json"
    scheduler = start_logged([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                              "--idle-timeout", idle_timeout, "--scheduler-file", str(scheduler_file)],
                             directory / "scheduler.log")
    deadline = time.monotonic() + 60
    while not scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if not scheduler_file.exists():
        stop_groups([scheduler], signal.SIGKILL)
        raise AssertionError("the scheduler never wrote its address")
    return scheduler, json.loads(scheduler_file.read_text())["address"]


def stop_groups(processes: Iterable[subprocess.Popen], signum: int) -> None:
    """Signal each process's group (the last started first), then reap them all."""
    processes = list(processes)
    for process in reversed(processes):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
    for process in processes:
        process.wait(timeout=30)
