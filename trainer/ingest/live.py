"""Incremental corpus reading for files that grow while they are read (live ingest).

Each file keeps a byte offset: a refresh reads only the appended bytes, parses the complete
lines, and keeps a trailing line without its newline as pending (not an error: the writer
has not finished it). A file that shrank or was replaced (new inode) is re-read whole.
Files are keyed by their canonical path, so one file reached by two spellings (a relative
``--corpus`` path and the absolute path a watcher reports, or a symlink) is read once.
Each file also keeps the size and sha256 of the bytes parsed so far (up to its last complete
line): a snapshot names the file as it was read, not as it is when a card is written later.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.core.codecs import SUPPORTED_CODECS
from trainer.ingest.clips import clip_key_columns
from trainer.ingest.columns import ParsedChunk, Rejections
from trainer.ingest.corpus import Corpus
from trainer.ingest.parsing import InputFile, parse_lines, strip_bom


@dataclass
class _FileState:
    inode: int
    offset: int = 0
    next_line_no: int = 1
    pending: bytes = b""
    chunks: list[ParsedChunk] = field(default_factory=list)
    summaries: list[ChunkSummary] = field(default_factory=list)
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)  # of the file's first ``parsed_bytes``
    parsed_bytes: int = 0
    raw_pending: bytes = b""  # ``pending`` as it is in the file (a BOM not yet stripped)

    def consumed(self, appended: bytes) -> None:
        """Hash the raw bytes up to the last complete line; keep the rest for the next refresh."""
        raw = self.raw_pending + appended
        cut = raw.rfind(b"\n") + 1
        self.digest.update(raw[:cut])
        self.parsed_bytes += cut
        self.raw_pending = raw[cut:]

    def as_input(self, path: str) -> InputFile:
        return InputFile(path, self.parsed_bytes, self.digest.hexdigest())


@dataclass(frozen=True)
class ChunkSummary:
    """What the console shows about a chunk, computed once when it is parsed."""

    rows_by_codec: np.ndarray  # int64 [14], per-clip rows only
    sources_by_codec: tuple[frozenset[str], ...]
    # Per-frame rows count as the clips they belong to; a clip's frames may span chunks.
    clips_by_codec: tuple[frozenset[tuple], ...]

    @classmethod
    def of(cls, chunk: ParsedChunk) -> ChunkSummary:
        sources: list[set[str]] = [set() for _ in SUPPORTED_CODECS]
        width = len(chunk.source_names) + 1
        for pair in np.unique(chunk.codec.astype(np.int64) * width + chunk.source_codes).tolist():
            sources[pair // width].add(chunk.source_names[pair % width])
        clips: list[set[tuple]] = [set() for _ in SUPPORTED_CODECS]
        frame_rows = np.flatnonzero(chunk.per_frame)
        if frame_rows.size:
            key_values = clip_key_columns(chunk.raw[frame_rows]).tolist()
            names, presets = chunk.source_names, chunk.preset_names
            rows = zip(chunk.codec[frame_rows].tolist(), chunk.source_codes[frame_rows].tolist(),
                       chunk.preset_codes[frame_rows].tolist(), key_values, strict=True)
            for codec_id, source, preset, values in rows:
                clips[codec_id].add((names[source], presets[preset], *values))
        whole_rows = chunk.codec[~chunk.per_frame].astype(np.int64)
        return cls(np.bincount(whole_rows, minlength=len(SUPPORTED_CODECS)),
                   tuple(frozenset(s) for s in sources), tuple(frozenset(c) for c in clips))


@dataclass(frozen=True)
class LiveSummary:
    rows_per_codec: dict[str, int]
    sources_per_codec: dict[str, int]
    rows_accepted: int
    rejections: Rejections


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
        path = os.path.realpath(path)
        state = self._files.pop(path, None)
        lost = _rows_by_codec(state.summaries) if state else Counter()
        return FileUpdate(path, lost, 0, True, 0)

    def refresh(self, path: str) -> FileUpdate:
        """Bring one file up to date; returns what changed."""
        path = os.path.realpath(path)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return self.forget(path)
        state = self._files.get(path)
        removed: Counter = Counter()
        reset = False
        if state is None or state.inode != stat.st_ino or stat.st_size < state.offset:
            if state is not None:
                removed = _rows_by_codec(state.summaries)
                reset = True
            state = _FileState(inode=stat.st_ino)
            self._files[path] = state
        if stat.st_size == state.offset:
            return FileUpdate(path, removed, 0, reset, len(state.pending))
        with open(path, "rb") as handle:
            handle.seek(state.offset)
            appended = handle.read(stat.st_size - state.offset)
        state.offset += len(appended)
        state.consumed(appended)
        data = state.pending + appended
        if state.next_line_no == 1:  # no line parsed yet: data still starts at the file's first byte
            data = strip_bom(data)
        cut = data.rfind(b"\n")
        if cut < 0:
            state.pending = data
            return FileUpdate(path, removed, 0, reset, len(state.pending))
        complete, state.pending = data[:cut], data[cut + 1 :]
        lines = complete.split(b"\n")
        chunk = parse_lines(lines, path, state.next_line_no)
        state.next_line_no += len(lines)
        state.chunks.append(chunk)
        state.summaries.append(ChunkSummary.of(chunk))
        added = _rows_by_codec(state.summaries[-1:])
        return FileUpdate(path, added + removed, chunk.rejections.total, reset, len(state.pending))

    def corpus(self, roots: list[str] | None = None, missing_roots: list[str] | None = None) -> Corpus:
        chunks = [chunk for path in sorted(self._files) for chunk in self._files[path].chunks]
        inputs = [self._files[path].as_input(path) for path in sorted(self._files) if self._files[path].chunks]
        return Corpus.from_chunks(chunks, inputs=inputs, roots=list(roots or []),
                                  missing_roots=list(missing_roots or []))

    def summary(self) -> LiveSummary:
        """Counts for display, from per-chunk summaries: no concatenation of rows."""
        rows = np.zeros(len(SUPPORTED_CODECS), dtype=np.int64)
        sources: list[set[str]] = [set() for _ in SUPPORTED_CODECS]
        clips: list[set[tuple]] = [set() for _ in SUPPORTED_CODECS]
        rejections = Rejections()
        for state in self._files.values():
            for chunk, summary in zip(state.chunks, state.summaries, strict=True):
                rows += summary.rows_by_codec
                for codec_id, names in enumerate(summary.sources_by_codec):
                    sources[codec_id] |= names
                for codec_id, keys in enumerate(summary.clips_by_codec):
                    clips[codec_id] |= keys
                rejections.merge(chunk.rejections)
        rows += np.array([len(c) for c in clips], dtype=np.int64)
        return LiveSummary(
            rows_per_codec={c: int(rows[i]) for i, c in enumerate(SUPPORTED_CODECS)},
            sources_per_codec={c: len(sources[i]) for i, c in enumerate(SUPPORTED_CODECS)},
            rows_accepted=int(rows.sum()),
            rejections=rejections,
        )

    def refresh_all(self, paths: list[Path]) -> list[FileUpdate]:
        wanted = {os.path.realpath(p) for p in paths}
        updates = [self.forget(p) for p in list(self._files) if p not in wanted]
        return updates + [self.refresh(p) for p in sorted(wanted)]


def _rows_by_codec(summaries: list[ChunkSummary]) -> Counter:
    counts: Counter = Counter()
    for summary in summaries:
        for index, n in enumerate(summary.rows_by_codec.tolist()):
            n += len(summary.clips_by_codec[index])  # frames of a clip change it too
            if n:
                counts[SUPPORTED_CODECS[index]] += n
    return counts
