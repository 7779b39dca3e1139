"""Orderly stops and processes that never outlive their parent.

SIGINT, SIGTERM and SIGHUP only *record* a stop request; the batch checks it between steps, so a
signal never lands in the middle of a file write and a promotion being applied always completes.
Pool workers get the parent's pid and leave on their own when it dies, even by SIGKILL: they are
children of the fork server, not of the batch, so nothing else would tell them.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PARENT_POLL_SECONDS = 0.5


class StopRequest:
    """The first stop signal received, if any (later ones change nothing)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130 SIGINT, 143 SIGTERM, 129 SIGHUP)."""
        return 128 + (self.signum or 0)

    @property
    def reason(self) -> str:
        return f"interrupted by {self.signal_name}"

    def record(self, signum: int, _frame: object = None) -> None:
        if self.signum is None:
            self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Turn stop signals into a StopRequest for the duration; handlers are restored afterwards.

    Signal handlers can only be set from the main thread; elsewhere (a test calling the batch
    from a worker thread) the request simply never fires.
    """
    request = StopRequest()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, request.record) for signum in STOP_SIGNALS}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def exit_when_parent_dies(parent_pid: int) -> None:
    """In a worker: a daemon thread that ends this process as soon as ``parent_pid`` is gone."""
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    try:
        pidfd = os.pidfd_open(parent_pid)  # Linux 5.3+: readable once the process has exited
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        select.select([pidfd], [], [])
        os._exit(1)
    while True:  # elsewhere: poll the pid
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass  # exists, owned by someone else
        time.sleep(PARENT_POLL_SECONDS)
