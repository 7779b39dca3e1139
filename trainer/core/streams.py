"""Output to a terminal that has gone away is dropped, never fatal.

A closed terminal (EIO), a reader that stopped reading (``| head -1``: EPIPE) or a vanished
session must not stop a run between its last verdict and its report: the report and the run log
are the record, the terminal only a view of it. The first such failure points the descriptor at
/dev/null, so the bytes still buffered, and the interpreter's flush at exit, go nowhere quietly
instead of raising again (or printing "Exception ignored ... BrokenPipeError").
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

# The errors of an output whose other end is gone; any other error (a full disk) still raises.
GONE_ERRNOS = frozenset({errno.EIO, errno.EPIPE, errno.ENXIO, errno.ENODEV, errno.ECONNRESET, errno.EBADF})


def is_gone(exc: OSError) -> bool:
    return isinstance(exc, BrokenPipeError) or exc.errno in GONE_ERRNOS


class DroppingStream:
    """A text stream whose writes are dropped once its terminal or pipe is gone."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.dropped = False

    def write(self, text: str) -> int:
        if not self.dropped:
            try:
                return self._stream.write(text)
            except OSError as exc:
                self._gone(exc)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.dropped:
            try:
                self._stream.flush()
            except OSError as exc:
                self._gone(exc)

    def _gone(self, exc: OSError) -> None:
        if not is_gone(exc):
            raise exc
        self.dropped = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()  # what was buffered now drains into /dev/null

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def output_dropped_when_gone() -> Iterator[None]:
    """sys.stdout and sys.stderr drop their output once it has nowhere to go, for the duration.

    On the way out both are flushed through the wrapper (a pipe closed by ``head`` fails here,
    quietly, instead of in the interpreter's final flush) and the originals are put back.
    """
    originals = (sys.stdout, sys.stderr)
    wrapped = [DroppingStream(s) if s is not None and not isinstance(s, DroppingStream) else s for s in originals]
    sys.stdout, sys.stderr = wrapped
    try:
        yield
    finally:
        for stream in wrapped:
            if stream is not None:
                stream.flush()
        sys.stdout, sys.stderr = originals
