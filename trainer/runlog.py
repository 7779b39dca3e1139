"""The run's log: every line goes to the log file and, optionally, to a terminal or a callback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO


class RunLog:
    def __init__(self, path: Path | None, echo: TextIO | None = None,
                 listener: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._echo = echo
        self._listener = listener
        self._handle = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = path.open("a", encoding="utf-8")

    def line(self, text: str, *, echo: bool = True) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        for part in text.splitlines() or [""]:
            if self._handle is not None:
                self._handle.write(f"{stamp} {part}\n")
                self._handle.flush()
            if echo and self._echo is not None:
                print(part, file=self._echo, flush=True)
            if self._listener is not None:
                self._listener(part)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
