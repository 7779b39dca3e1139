"""The model-directory lock: one writer at a time, and a second one told who holds it."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_NAME = ".lock"
OWNER_NAME = ".lock.owner"


class ModelDirLocked(Exception):
    """Another run holds the model directory."""


class PromotionError(Exception):
    """The plan could not be applied as reviewed (nothing was changed)."""



@contextmanager
def model_dir_lock(model_dir: Path, purpose: str = "apply") -> Iterator[None]:
    """Hold the model directory; a second holder gets ModelDirLocked naming the first."""
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PromotionError(f"model directory {model_dir} cannot be created: {exc.strerror or exc}") from None
    lock = FileLock(str(model_dir / LOCK_NAME), timeout=0)
    owner_file = model_dir / OWNER_NAME
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = owner_file.read_text(encoding="utf-8").strip()
        except OSError:
            holder = "unknown holder"
        raise ModelDirLocked(f"model directory {model_dir} is locked by {holder}") from None
    except OSError as exc:  # after Timeout, which is an OSError too
        raise PromotionError(f"model directory {model_dir} is not writable: {exc.strerror or exc}") from None
    try:
        started = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            owner_file.write_text(f"pid {os.getpid()} on {socket.gethostname()} since {started} ({purpose}: "
                                  f"{' '.join(sys.argv[:3])})\n", encoding="utf-8")
        except OSError as exc:
            raise PromotionError(f"model directory {model_dir} is not writable: {exc.strerror or exc}") from None
        yield
    finally:
        owner_file.unlink(missing_ok=True)
        lock.release()
