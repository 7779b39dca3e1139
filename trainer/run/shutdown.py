"""Orderly stops: a stop signal is recorded, never acted on mid-write.

SIGINT, SIGTERM and SIGHUP only *record* a stop request; the batch checks it between steps, so a
signal never lands in the middle of a file write and a promotion being applied always completes.

A signal that was already ignored when the run started stays ignored, as Python itself does for
SIGINT and POSIX shells for traps: ``nohup`` ignores SIGHUP so that a batch outlives a logout, and
a non-interactive shell's background job ignores SIGINT. SIGTERM is never left out: it is how CI
and ``timeout`` stop a run, and nothing ignores it on purpose.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
ALWAYS_HONOURED = frozenset({signal.SIGTERM})


class StopRequest:
    """The first stop signal received, if any (later ones change nothing)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        # Set by the memory guard (run.memory_guard): the run stops as on a signal, then exits 2 with this line.
        self.out_of_memory: str | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None or self.out_of_memory is not None

    def record_out_of_memory(self, message: str) -> None:
        if not self.requested:
            self.out_of_memory = message

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130 SIGINT, 143 SIGTERM, 129 SIGHUP)."""
        return 128 + (self.signum or 0)

    @property
    def reason(self) -> str:
        if self.signum is None and self.out_of_memory:
            return self.out_of_memory
        return f"interrupted by {self.signal_name}"

    def record(self, signum: int, _frame: object = None) -> None:
        if not self.requested:
            self.signum = signum


def honoured_signals() -> tuple[int, ...]:
    """The stop signals this process acts on: those not ignored when it started (SIGTERM always)."""
    return tuple(signum for signum in STOP_SIGNALS
                 if signum in ALWAYS_HONOURED or signal.getsignal(signum) is not signal.SIG_IGN)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Turn stop signals into a StopRequest for the duration; handlers are restored afterwards.

    Signal handlers can only be set from the main thread; elsewhere (a test calling the batch
    from a worker thread) the request simply never fires.
    """
    request = StopRequest()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, request.record) for signum in honoured_signals()}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
