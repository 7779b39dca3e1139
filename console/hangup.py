"""The console ends when its terminal is gone, however that shows: SIGHUP, EOF or EIO.

A TUI is useless without its terminal, so unlike the batch (which keeps an inherited ignore, for
``nohup``) the console handles SIGHUP whatever it inherited. A hang-up does not always bring a
signal: with SIGHUP ignored, or the pty closed by a process outside the session, all that is left
is a terminal whose reads return EOF and whose writes fail with EIO. Textual's input thread reads
that EOF in a loop and its writer thread dies on the EIO, so the console would run on, with its
workers, forever. ``TerminalWatch`` notices both (a SIGHUP, or POLLHUP/POLLERR on the terminal's
descriptors) and asks the app to end as on quit; ``HangupDriver`` keeps Textual's own threads
alive meanwhile, so that the app's loop can still run that clean end.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from textual.drivers.linux_driver import LinuxDriver

from trainer.run import DroppingStream, is_gone

# What signal.signal takes and returns (typeshed's private signal._HANDLER).
SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
TERMINAL_FDS = (0, 1, 2)
GONE_EVENTS = select.POLLHUP | select.POLLERR | select.POLLNVAL
POLL_MS = 200
# A last resort only: the clean end (workers stopped, log closed) takes about a second. Should the
# app's loop never get to it, the process still ends, and its pool workers follow (parent watch).
FORCE_EXIT_AFTER_S = 15.0


class HangupDriver(LinuxDriver):
    """Textual's Linux driver, whose threads survive a terminal that has gone away.

    Output goes through a DroppingStream (the first EIO points it at /dev/null: the writer thread
    would otherwise die and the app block on its full queue); an EIO on input ends the input
    thread quietly instead of panicking the app. TerminalWatch does the rest.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Textual's private _file is declared a TextIOWrapper; a DroppingStream does the writes it is asked for.
        self._file = DroppingStream(self._file)  # type: ignore[assignment,arg-type]  # duck-typed stand-in

    def run_input_thread(self) -> None:
        """Textual's input loop, ended quietly by the EIO of a terminal that is gone."""
        try:
            super().run_input_thread()
        except OSError as exc:
            if not is_gone(exc):
                raise


class TerminalWatch:
    """From entry to exit: SIGHUP handled, the terminal watched; ``on_gone(reason)`` called once.

    ``on_gone`` is called from the watch's thread, and only once ``ready()`` (the app is running,
    so that it can act on it); a hang-up seen earlier waits for that.
    """

    def __init__(self, on_gone: Callable[[str], None], ready: Callable[[], bool] = lambda: True,
                 fds: tuple[int, ...] = TERMINAL_FDS, force_exit_code: int = 128 + signal.SIGHUP) -> None:
        self._on_gone, self._ready, self._fds = on_gone, ready, fds
        self._force_exit_code = force_exit_code
        self.reason: str | None = None
        self._stopped = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._previous: SignalHandler = None
        self._thread = threading.Thread(target=self._run, name="terminal-watch", daemon=True)

    def __enter__(self) -> TerminalWatch:
        self._previous = signal.signal(signal.SIGHUP, self._sighup)  # the main thread: over SIG_IGN too
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopped.set()
        self._wake(b"s")
        self._thread.join(timeout=2)
        signal.signal(signal.SIGHUP, self._previous)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _sighup(self, _signum: int, _frame: object) -> None:
        self._wake(b"h")  # a pipe write: all a signal handler should do

    def _wake(self, byte: bytes) -> None:
        with contextlib.suppress(OSError):  # a full pipe is awake already
            os.write(self._wake_w, byte)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        for fd in self._fds:
            poller.register(fd, 0)  # POLLHUP, POLLERR and POLLNVAL are always reported
        while not self._stopped.is_set():
            if self.reason is None:
                self.reason = self._hang_up_seen(poller.poll(POLL_MS))
            elif self._ready():
                self._on_gone(self.reason)
                if not self._stopped.wait(FORCE_EXIT_AFTER_S):
                    os._exit(self._force_exit_code)
                return
            else:
                self._stopped.wait(POLL_MS / 1000)

    def _hang_up_seen(self, events: list[tuple[int, int]]) -> str | None:
        reason = None
        for fd, mask in events:
            if fd == self._wake_r:
                if b"h" in os.read(self._wake_r, 64):
                    reason = "SIGHUP"
            elif mask & GONE_EVENTS:
                _to_devnull(fd)  # what is still written (Textual's restore, the last log lines) goes nowhere
                reason = reason or "the terminal is gone (EOF/EIO)"
        return reason


def _to_devnull(fd: int) -> None:
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, fd)
        os.close(devnull)
