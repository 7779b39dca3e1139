"""The console's face over the run service: the live corpus, and the service's events posted to the UI.

Everything here runs off the UI thread (the engine in the service's thread, scans and plans in
Textual thread workers) and reports through ``post``. The UI never touches the engine's state
directly; training, cancelling, advice, plans, applies and reports are the service's commands.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from textual.message import Message

from console.messages import CorpusStats, CorpusUpdated, EngineEvent, LogWritten, ProbeCounted
from trainer.core.codecs import probe_quality_of
from trainer.core.display import clip_path
from trainer.ingest.corpus import CodecData, Corpus
from trainer.ingest.discovery import find_inputs, partition_roots
from trainer.ingest.live import FileUpdate, IncrementalCorpus
from trainer.learning.results import CodecResult
from trainer.outputs.describe import describe_probe_overrides
from trainer.run.config import RunConfig
from trainer.run.engine import TrainingEngine
from trainer.run.promotion import PromotionPlan
from trainer.run.runlog import RunLog
from trainer.run.service import RunService, open_wiring
from trainer.run.wiring import Wiring

ENTRYPOINT = "predictor-console"


class ConsoleSession:
    def __init__(self, config: RunConfig, post: Callable[[Message], None], wiring: Wiring | None = None) -> None:
        self.config = config
        self._own_wiring = wiring is None  # opened here (tests), so closed here; the launcher closes its own
        self.wiring = open_wiring(config) if wiring is None else wiring  # before the UI takes over stderr
        self._post = post
        self.live = IncrementalCorpus()
        self._corpus_lock = threading.Lock()
        self._corpus_cache: Corpus | None = None
        self._last_probe: dict[str, int] = {}
        self._pending_bytes: dict[str, int] = {}
        self.service = RunService(config, ENTRYPOINT, self.wiring, on_line=lambda line: self._post(LogWritten(line)),
                                  on_event=lambda event: self._post(EngineEvent(event)))

    @property
    def engine(self) -> TrainingEngine:
        return self.service.engine

    @property
    def log(self) -> RunLog:
        return self.service.log

    @property
    def cluster(self) -> object | None:
        """The Dask cluster training runs on, if any (its workers come and go: the status line is polled)."""
        return self.wiring.cluster

    @property
    def recovered(self) -> dict[str, object] | None:
        return self.service.recovered

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.service.recover_logged()  # before anything else: a set a killed run left half-written
        self.service.serve_in_background()
        self.log.line(f"console: profile={self.config.profile.name} seed={self.config.seed} "
                      f"executor={self.executor_status()}")
        for line in describe_probe_overrides(self.config.probe_quality):
            self.log.line(line)

    def executor_status(self) -> str:
        """Where training runs now; for a cluster, its current workers (they come and go)."""
        return self.service.executor_status()

    def stop(self) -> None:
        self.service.close(kill=True)
        if self._own_wiring:
            self.wiring.close()

    def busy(self) -> bool:
        return self.service.busy()

    # -- corpus ------------------------------------------------------------------------------
    def _roots(self) -> tuple[list[str], list[str]]:
        return partition_roots(self.config.corpus_roots)

    def scan(self) -> CorpusUpdated:
        """Read every corpus file (incrementally where already known)."""
        files = find_inputs(self.config.corpus_files, self.config.corpus_roots).files
        with self._corpus_lock:
            updates = self.live.refresh_all(files)
        return self._after(updates, initial=True)

    def refresh(self, paths: set[str]) -> CorpusUpdated:
        with self._corpus_lock:
            updates = [self.live.refresh(p) for p in sorted(paths)]
        return self._after(updates, initial=False)

    def _after(self, updates: list[FileUpdate], initial: bool) -> CorpusUpdated:
        changed: set[str] = set()
        for update in updates:
            changed |= update.changed_codecs
            self._pending_bytes[update.path] = update.pending_bytes
            if update.reset:
                self.log.line(f"corpus: {clip_path(update.path)} was truncated, replaced or removed; re-read")
            if update.rows_by_codec:
                added = ", ".join(f"{c} {n}" for c, n in sorted(update.rows_by_codec.items()))
                self.log.line(f"corpus: {clip_path(update.path)}: {added} rows" + (f", {update.rejected} rejected"
                                                                          if update.rejected else ""))
            elif update.rejected:
                self.log.line(f"corpus: {clip_path(update.path)}: {update.rejected} rows rejected")
        with self._corpus_lock:
            self._corpus_cache = None
        if initial:
            self.corpus()  # every file was just read in full anyway: count the probes from the start
        return CorpusUpdated(self.stats(), changed, initial=initial)

    def corpus(self) -> Corpus:
        with self._corpus_lock:
            if self._corpus_cache is None:
                self._corpus_cache = self.live.corpus(*self._roots())
                self._corpus_cache.probe_measurements = self.config.probe_measurements
            return self._corpus_cache

    def stats(self) -> CorpusStats:
        """Display counts from the live per-chunk summaries (cheap: no rows are concatenated)."""
        present, missing = self._roots()
        probe = self._probe_counts()
        with self._corpus_lock:
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

    # -- training ---------------------------------------------------------------------------
    def queue(self, codec: str) -> None:
        """Train ``codec`` on the corpus as it is when its turn comes; the job keeps that snapshot
        (rows and file digests) with its verdict, which is what promotion later uses."""
        self.service.train(codec, lambda: self.snapshot(codec))

    def snapshot(self, codec: str) -> CodecData:
        """The codec's training table from the live corpus now, with probes at its (overridden) probe quality."""
        corpus = self.corpus()
        self._post(ProbeCounted(self._probe_counts()))  # the corpus is built now: its probe counts are cheap
        data = corpus.for_codec(codec, probe_quality_of(codec, self.config.probe_quality))
        probes = self.config.harness_probes
        return data if probes is None else data.with_harness_probes(probes)

    def _probe_counts(self) -> dict[str, int]:
        """corpus.probe of the corpus as last built (the initial scan and each training snapshot build
        it); never builds one itself, so a refresh stays incremental however large the corpus."""
        with self._corpus_lock:
            corpus = self._corpus_cache
        if corpus is not None:
            self._last_probe = corpus.probe_counts(self.config.probe_quality).as_report()
        return dict(self._last_probe)

    def advise(self, codec: str) -> dict[str, object]:
        """The data advisor on the table this codec was last judged on (the service's command)."""
        return self.service.advise(codec)

    def cancel(self, codec: str) -> bool:
        return self.service.cancel(codec)

    def results(self) -> dict[str, CodecResult]:
        return self.service.results()

    # -- promotion ---------------------------------------------------------------------------
    def plan(self, allow_regression: Collection[str] = ()) -> PromotionPlan:
        """The service's plan for the verdicts on screen (a codec training anew is held back)."""
        return self.service.plan(allow_regression)

    def apply(self, plan: PromotionPlan) -> dict[str, object]:
        """The operator said yes: the service applies the plan; the report records it. Raises if not applied."""
        outcome = self.service.apply(plan)
        if outcome.error is not None:
            raise outcome.error
        self.write_report(outcome.section, outcome.written)
        return outcome.section

    def write_report(self, promotion: dict[str, object], written: list[str] | None = None) -> None:
        """report.json through the service's one writer, from the live corpus as it is now."""
        corpus = self.corpus()
        self.service.write_report(self.service.report_inputs(
            results=self.results(), corpus=corpus, present_roots=corpus.roots, n_files=len(self.live.paths),
            promotion=promotion, written=list(written or [])))
