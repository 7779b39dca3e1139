"""Seeds that depend only on what they name, so every process and machine derives the same ones."""

from __future__ import annotations

import zlib


def stable_seed(*parts: object) -> int:
    """A seed that depends only on its parts (Python's hash() is salted per process)."""
    return zlib.crc32("\x1f".join(map(str, parts)).encode()) & 0x7FFFFFFF
