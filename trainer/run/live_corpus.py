"""The console's corpus: read incrementally as files grow, counted cheaply for display, snapshotted to train.

The batch reads its corpus once (``load_corpus``); a console run watches it change, so its corpus
is an ``IncrementalCorpus`` refreshed file by file. Each training job takes a snapshot of one
codec's table when its turn comes, and keeps it with its verdict: promotion later uses exactly
those rows, never the corpus as it has grown since. Thread-safe: scans run on worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from trainer.core.codecs import probe_quality_of
from trainer.core.display import clip_path
from trainer.ingest.corpus import CodecData, Corpus
from trainer.ingest.discovery import find_inputs, partition_roots
from trainer.ingest.live import FileUpdate, IncrementalCorpus
from trainer.run.config import RunConfig


@dataclass(frozen=True)
class CorpusStats:
    present_roots: list[str]
    missing_roots: list[str]
    files: int
    rows_accepted: int
    rejected: dict[str, int]
    rows_per_codec: dict[str, int]
    sources_per_codec: dict[str, int]
    last_change: str
    pending_bytes: int = 0
    unknown_codecs: dict[str, int] = field(default_factory=dict)
    # Rows by where their probe inputs come from (the report's corpus.probe); empty before a corpus.
    probe: dict[str, int] = field(default_factory=dict)


class LiveCorpus:
    """The corpus files of ``config`` as they are now; ``log`` gets a line per change read."""

    def __init__(self, config: RunConfig, log: Callable[[str], None]) -> None:
        self.config = config
        self._log = log
        self.live = IncrementalCorpus()
        self._lock = threading.Lock()
        self._cache: Corpus | None = None
        self._last_probe: dict[str, int] = {}
        self._pending_bytes: dict[str, int] = {}

    @property
    def n_files(self) -> int:
        return len(self.live.paths)

    def _roots(self) -> tuple[list[str], list[str]]:
        return partition_roots(self.config.corpus_roots)

    def scan(self) -> set[str]:
        """Read every corpus file (incrementally where already known); the codecs whose rows changed."""
        files = find_inputs(self.config.corpus_files, self.config.corpus_roots).files
        with self._lock:
            updates = self.live.refresh_all(files)
        changed = self._after(updates)
        self.corpus()  # every file was just read in full anyway: count the probes from the start
        return changed

    def refresh(self, paths: set[str]) -> set[str]:
        with self._lock:
            updates = [self.live.refresh(p) for p in sorted(paths)]
        return self._after(updates)

    def _after(self, updates: list[FileUpdate]) -> set[str]:
        changed: set[str] = set()
        for update in updates:
            changed |= update.changed_codecs
            self._pending_bytes[update.path] = update.pending_bytes
            if update.reset:
                self._log(f"corpus: {clip_path(update.path)} was truncated, replaced or removed; re-read")
            if update.rows_by_codec:
                added = ", ".join(f"{c} {n}" for c, n in sorted(update.rows_by_codec.items()))
                self._log(f"corpus: {clip_path(update.path)}: {added} rows" + (f", {update.rejected} rejected"
                                                                          if update.rejected else ""))
            elif update.rejected:
                self._log(f"corpus: {clip_path(update.path)}: {update.rejected} rows rejected")
        with self._lock:
            self._cache = None
        return changed

    def corpus(self) -> Corpus:
        with self._lock:
            if self._cache is None:
                self._cache = self.live.corpus(*self._roots())
                self._cache.probe_measurements = self.config.probe_measurements
            return self._cache

    def stats(self) -> CorpusStats:
        """Display counts from the live per-chunk summaries (cheap: no rows are concatenated)."""
        present, missing = self._roots()
        probe = self.probe_counts()
        with self._lock:
            summary = self.live.summary()
            files = len(self.live.paths)
        return CorpusStats(
            present_roots=present,
            missing_roots=missing,
            files=files,
            rows_accepted=summary.rows_accepted,
            rejected=dict(sorted(summary.rejections.counts.items())),
            rows_per_codec=summary.rows_per_codec,
            sources_per_codec=summary.sources_per_codec,
            last_change=datetime.now(UTC).strftime("%H:%M:%S UTC"),
            pending_bytes=sum(self._pending_bytes.values()),
            unknown_codecs=dict(summary.rejections.unknown_codecs),
            probe=probe,
        )

    def snapshot(self, codec: str) -> CodecData:
        """The codec's training table from the corpus now, with probes at its (overridden) probe quality."""
        corpus = self.corpus()
        data = corpus.for_codec(codec, probe_quality_of(codec, self.config.probe_quality))
        probes = self.config.harness_probes
        return data if probes is None else data.with_harness_probes(probes)

    def probe_counts(self) -> dict[str, int]:
        """corpus.probe of the corpus as last built (the initial scan and each training snapshot build
        it); never builds one itself, so a refresh stays incremental however large the corpus."""
        with self._lock:
            corpus = self._cache
        if corpus is not None:
            self._last_probe = corpus.probe_counts(self.config.probe_quality).as_report()
        return dict(self._last_probe)
