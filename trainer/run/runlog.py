"""The run's log: every line goes to the log file and, optionally, to a terminal or a callback."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from trainer.core.streams import is_gone


class RunLog:
    def __init__(self, path: Path | None, echo: TextIO | None = None,
                 listener: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._echo = echo
        self._listener = listener
        self._handle: TextIO | None = None
        self._lock = threading.Lock()  # the progress thread writes lines too: one whole line at a time
        # The first failure to write the log file (a full disk): the run goes on, echoing to the
        # terminal, and the batch reports it at the end instead of dying mid-training.
        self.error: str | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = path.open("a", encoding="utf-8")
            except OSError as exc:
                self.error = f"cannot write log {path}: {exc.strerror or exc}"

    def line(self, text: str, *, echo: bool = True) -> None:
        with self._lock:
            self._write(text, echo)

    def _write(self, text: str, echo: bool) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        for part in text.splitlines() or [""]:
            if self._handle is not None:
                try:
                    self._handle.write(f"{stamp} {part}\n")
                    self._handle.flush()
                except OSError as exc:
                    self.error = f"cannot write log {self.path}: {exc.strerror or exc}"
                    self._close_quietly()
            if echo and self._echo is not None:
                try:
                    print(part, file=self._echo, flush=True)
                except OSError as exc:  # the terminal went away: the log file goes on, the echo stops
                    if not is_gone(exc):
                        raise
                    self._echo = None
            if self._listener is not None:
                self._listener(part)

    def close(self) -> None:
        if self._handle is not None:
            try:
                self._handle.close()
            except OSError as exc:  # the last buffered bytes did not fit
                self.error = self.error or f"cannot write log {self.path}: {exc.strerror or exc}"
            self._handle = None

    def _close_quietly(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:  # only called after a write through it failed, but the checker cannot know
            with contextlib.suppress(OSError):
                handle.close()
