"""Incremental corpus reading for files that grow while they are read (live ingest).

Each file keeps a byte offset: a refresh reads only the appended bytes, parses the complete
lines, and keeps a trailing line without its newline as pending (not an error: the writer
has not finished it). A file that shrank or was replaced (new inode) is re-read whole.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.codecs import SUPPORTED_CODECS
from trainer.corpus import Corpus, ParsedChunk, parse_lines


@dataclass
class _FileState:
    inode: int
    offset: int = 0
    next_line_no: int = 1
    pending: bytes = b""
    chunks: list[ParsedChunk] = field(default_factory=list)


@dataclass(frozen=True)
class FileUpdate:
    path: str
    rows_by_codec: Counter  # accepted rows whose codec changed (added, or removed by a reset)
    rejected: int
    reset: bool
    pending_bytes: int

    @property
    def changed_codecs(self) -> set[str]:
        return {c for c, n in self.rows_by_codec.items() if n}


class IncrementalCorpus:
    """The live corpus behind the console: per-file parsed chunks, refreshed on file events."""

    def __init__(self) -> None:
        self._files: dict[str, _FileState] = {}

    @property
    def paths(self) -> list[str]:
        return sorted(self._files)

    def forget(self, path: str) -> FileUpdate:
        state = self._files.pop(path, None)
        lost = _rows_by_codec(state.chunks) if state else Counter()
        return FileUpdate(path, lost, 0, True, 0)

    def refresh(self, path: str) -> FileUpdate:
        """Bring one file up to date; returns what changed."""
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return self.forget(path)
        state = self._files.get(path)
        removed: Counter = Counter()
        reset = False
        if state is None or state.inode != stat.st_ino or stat.st_size < state.offset:
            if state is not None:
                removed = _rows_by_codec(state.chunks)
                reset = True
            state = _FileState(inode=stat.st_ino)
            self._files[path] = state
        if stat.st_size == state.offset:
            return FileUpdate(path, removed, 0, reset, len(state.pending))
        with open(path, "rb") as handle:
            handle.seek(state.offset)
            appended = handle.read(stat.st_size - state.offset)
        state.offset += len(appended)
        data = state.pending + appended
        cut = data.rfind(b"\n")
        if cut < 0:
            state.pending = data
            return FileUpdate(path, removed, 0, reset, len(state.pending))
        complete, state.pending = data[:cut], data[cut + 1 :]
        lines = complete.split(b"\n")
        chunk = parse_lines(lines, path, state.next_line_no)
        state.next_line_no += len(lines)
        state.chunks.append(chunk)
        added = _rows_by_codec([chunk])
        return FileUpdate(path, added + removed, chunk.rejections.total, reset, len(state.pending))

    def corpus(self, roots: list[str] | None = None, missing_roots: list[str] | None = None) -> Corpus:
        chunks = [chunk for path in sorted(self._files) for chunk in self._files[path].chunks]
        return Corpus.from_chunks(chunks, roots=list(roots or []), missing_roots=list(missing_roots or []))

    def refresh_all(self, paths: list[Path]) -> list[FileUpdate]:
        wanted = {str(p) for p in paths}
        updates = [self.forget(p) for p in list(self._files) if p not in wanted]
        return updates + [self.refresh(p) for p in sorted(wanted)]


def _rows_by_codec(chunks: list[ParsedChunk]) -> Counter:
    counts: Counter = Counter()
    for chunk in chunks:
        for index, n in enumerate(np.bincount(chunk.codec.astype(np.int64), minlength=len(SUPPORTED_CODECS))):
            if n:
                counts[SUPPORTED_CODECS[index]] += int(n)
    return counts
