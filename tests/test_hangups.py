"""The console on a real pty that closes: it ends as on quit (exit 129), whatever SIGHUP was at start.

Three ways a terminal goes: its pty is the console's controlling terminal and SIGHUP is at its
default (a terminal window closed), the same with SIGHUP ignored (started under ``nohup``), and a
pty that is only the console's stdin and stdout (no SIGHUP at all: reads return EOF, writes fail
with EIO). Each must leave no process of the console's session within 15 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import write_corpus
from tests.dispositions import disposition, python_argv
from tests.test_faults import REPO, TRAINING_PLAN, _session_processes, _wait_gone, until_training

pytestmark = pytest.mark.slow  # starts consoles that train

CONSOLE = "from console.cli import main; raise SystemExit(main())"


def _console_on_pty(tmp_path, *, ignored: tuple[int, ...], controlling_tty: bool) -> tuple[subprocess.Popen, int]:
    import pty

    corpus = write_corpus(tmp_path / "corpus.jsonl", TRAINING_PLAN)
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "140", "LINES": "42", "EPOCHS": "400"}
    proc = subprocess.Popen(
        python_argv("-c", CONSOLE, "--corpus", str(corpus), "--out-dir", str(tmp_path / "runs"), "--model-dir",
                    str(tmp_path / "model"), "--workers", "2", ignored=ignored, controlling_tty=controlling_tty),
        cwd=REPO, stdin=slave, stdout=slave, stderr=slave, start_new_session=not controlling_tty, env=env)
    os.close(slave)
    return proc, master


@pytest.mark.parametrize(("ignored", "controlling_tty"), [((), True), ((signal.SIGHUP,), True), ((), False)],
                         ids=["sighup-default", "sighup-ignored", "no-controlling-tty"])
def test_a_console_whose_terminal_closes_ends_as_on_quit(tmp_path, ignored, controlling_tty):
    proc, master = _console_on_pty(tmp_path, ignored=ignored, controlling_tty=controlling_tty)
    try:
        until_training(proc, master)
        if ignored:  # the inherited ignore reached the console's helpers; the console handles SIGHUP itself
            assert disposition(proc.pid, signal.SIGHUP) == "caught"
        os.close(master)  # the terminal window closes
        master = -1
        closed = time.monotonic()
        assert proc.wait(timeout=15) == 128 + signal.SIGHUP
        assert _wait_gone(proc.pid, 15 - (time.monotonic() - closed)) == []
        [log] = (tmp_path / "runs").glob("train_*.log")
        # With a controlling tty the SIGHUP and the hung-up descriptors come together: either is named.
        reasons = ["the terminal is gone (EOF/EIO)", *(["SIGHUP"] if controlling_tty else [])]
        assert any(f"console: {reason}: stopping" in log.read_text() for reason in reasons)
    finally:
        if master >= 0:
            os.close(master)
        for pid in _session_processes(proc.pid):
            os.kill(pid, signal.SIGKILL)
