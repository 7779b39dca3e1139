"""The console's controller: live corpus + engine thread + promotion, posting messages to the UI.

Everything here runs off the UI thread (the engine in its own thread, scans and plans in Textual
thread workers) and reports through ``post``. The UI never touches the engine's state directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from concurrent.futures import wait
from datetime import UTC, datetime

from textual.message import Message

from console.messages import CorpusStats, CorpusUpdated, EngineEvent, LogWritten, ProbeCounted
from trainer.core.codecs import SUPPORTED_CODECS, probe_quality_of
from trainer.core.display import clip_path
from trainer.executors.dask_cluster import Cluster, cluster_capacity, describe_executor
from trainer.executors.host import ExecutorFactory
from trainer.executors.process_pool import start_pool_helpers
from trainer.ingest.corpus import CodecData, Corpus
from trainer.ingest.discovery import find_inputs, partition_roots
from trainer.ingest.live import FileUpdate, IncrementalCorpus
from trainer.learning.events import Event
from trainer.learning.results import CodecResult, FinalModel
from trainer.outputs.advice_text import advice_lines
from trainer.outputs.describe import describe_event, describe_probe_overrides
from trainer.outputs.report import build_report, corpus_section, utc_stamp, write_report
from trainer.run.advise import advise
from trainer.run.config import RunConfig
from trainer.run.engine import TrainingEngine
from trainer.run.runlog import RunLog
from trainer.shipping.apply import apply_plan
from trainer.shipping.incumbent import incumbent_judge
from trainer.shipping.journal import describe_recovery, recover_model_dir
from trainer.shipping.lock import ModelDirLocked, PromotionError
from trainer.shipping.plan import PromotionPlan, plan_promotion

FINAL_MODEL_TIMEOUT_S = 600
REGRESSION_OVERRIDE = "the operator confirmed it a second time in the console"


class ConsoleSession:
    def __init__(self, config: RunConfig, post: Callable[[Message], None], executor_factory: ExecutorFactory,
                 cluster: Cluster | None = None) -> None:
        if cluster is None:
            start_pool_helpers()  # before the UI takes over stderr
        self.config = config
        self.cluster = cluster
        self._executor_factory = executor_factory
        self._post = post
        self.live = IncrementalCorpus()
        self._corpus_lock = threading.Lock()
        self._corpus_cache: Corpus | None = None
        self._last_probe: dict[str, int] = {}
        self._pending_bytes: dict[str, int] = {}
        self._finals: dict[str, tuple[CodecData, FinalModel]] = {}  # retrains, with the data they were made from
        self.recovered: dict[str, object] | None = None
        self.stamp = utc_stamp()
        self.log = RunLog(config.out_dir / f"train_{self.stamp}.log",
                          listener=lambda line: self._post(LogWritten(line)))
        if cluster is not None:
            cluster.on_refusal(self.log.line)  # a late worker of another build: named in the log pane
        self.engine = TrainingEngine(
            profile=config.profile,
            seed=config.seed,
            emit=self._on_engine_event,
            executor_factory=executor_factory,
            workers=config.workers if cluster is None else cluster_capacity(cluster.describe()),
            compare=incumbent_judge(config.model_dir),
        )
        self._stop = threading.Event()
        self._engine_thread = threading.Thread(target=self.engine.serve, args=(self._stop,), name="engine",
                                               daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._recover_model_dir()  # before anything else: a set a killed run left half-written
        self.engine.warm_up()
        self._engine_thread.start()
        self.log.line(f"console: profile={self.config.profile.name} seed={self.config.seed} "
                      f"executor={self.executor_status()}")
        for line in describe_probe_overrides(self.config.probe_quality):
            self.log.line(line)

    def _recover_model_dir(self) -> None:
        try:
            self.recovered = recover_model_dir(self.config.model_dir)
        except (ModelDirLocked, PromotionError, OSError) as exc:
            self.log.line(f"model directory: an interrupted promotion could not be repaired: {exc}")
            return
        if self.recovered is not None:
            self.log.line(describe_recovery(self.recovered))

    def executor_status(self) -> str:
        """Where training runs now; for a cluster, its current workers (they come and go)."""
        if self.cluster is None:
            return describe_executor({"kind": "process-pool", "workers": self.config.workers})
        try:
            return describe_executor(self.cluster.describe())
        except Exception as exc:  # scheduler gone for a moment: say so, keep the console up
            return f"dask {self.cluster.address}: unavailable ({type(exc).__name__})"

    def stop(self) -> None:
        self._stop.set()
        if self._engine_thread.is_alive():
            self._engine_thread.join(timeout=10)
        self.engine.close(kill=True)
        self.log.close()

    def busy(self) -> bool:
        return self.engine.is_busy()

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

    # -- training ----------------------------------------------------------------------------
    def queue(self, codec: str) -> None:
        """Train ``codec`` on the corpus as it is when its turn comes; the job keeps that snapshot
        (rows and file digests) with its verdict, which is what promotion later uses."""
        self.engine.submit(codec, lambda: self.snapshot(codec))

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
        """The data advisor on the table this codec was last judged on (same seed, same folds).

        Runs on an executor of its own from the same factory, so training keeps its workers' queue.
        """
        _verdict, data = self.engine.results.judged().get(codec, (None, None))
        if data is None:
            raise RuntimeError(f"{codec} has no judged data to advise on")
        advice = advise({codec: data}, self.config.profile, self.config.seed,
                        self._executor_factory, lambda: self._stop.is_set())
        if codec not in advice:
            raise RuntimeError("the console is closing")
        for line in advice_lines(advice[codec]):
            self.log.line(f"{codec} {line}")
        return advice[codec]

    def cancel(self, codec: str) -> bool:
        return self.engine.cancel(codec)

    def results(self) -> dict[str, CodecResult]:
        return dict(self.engine.results)

    def _on_engine_event(self, event: Event) -> None:
        self.log.line(describe_event(event))
        self._post(EngineEvent(event))

    # -- promotion ---------------------------------------------------------------------------
    def plan(self, allow_regression: Collection[str] = ()) -> PromotionPlan:
        """Retrain passing codecs on exactly the data their verdict judged, then plan every file change.

        The rows and corpus digests come from the verdict's own job, never from the live corpus
        (which may have grown since). A codec with a newer job queued or training is left out,
        blocked with the reason: the table shows it as training, so its old verdict is not on
        screen to be reviewed; it can be promoted once the newer job has its verdict. A retrain is
        reused while its codec's judged data is the same, so the plan asked for again after the
        operator allowed a regression ships the very model the first plan showed.
        """
        judged = self.engine.results.judged()  # one consistent (verdict, data) pair per codec
        training = self.engine.active_codecs()
        results = {codec: result for codec, (result, _data) in judged.items() if codec not in training}
        datas = {codec: data for codec, (_result, data) in judged.items() if data is not None}
        passing = [c for c, r in results.items() if r.status == "pass" and not datas[c].n_generated]
        reused = {c: self._finals[c][1] for c in passing if c in self._finals and self._finals[c][0] is datas[c]}
        retrains = {c: self.engine.train_final(datas[c]) for c in passing if c not in reused}
        wait(retrains.values(), timeout=FINAL_MODEL_TIMEOUT_S)
        finals = {**reused, **{codec: future.result() for codec, future in retrains.items() if future.done()}}
        self._finals.update({c: (datas[c], f) for c, f in finals.items() if f.weights is not None})
        plan = plan_promotion(results, finals, datas, self.config.model_dir, str(self.config.report_path),
                              allow_regression, REGRESSION_OVERRIDE)
        for codec in sorted(set(judged) & training, key=SUPPORTED_CODECS.index):
            reason = (f"a newer job is training on rows added since its {judged[codec][0].status} verdict; "
                      "promote after that job's verdict")
            plan.blocked[codec] = [reason]
            self.log.line(f"{codec}: not in the promotion plan: {reason}")
        return plan

    def apply(self, plan: PromotionPlan) -> dict[str, object]:
        applied = apply_plan(plan, self.config.model_dir, self.config.out_dir / "backup", utc_stamp())
        self.write_report({**plan.as_report(), **applied})
        for change in plan.changes:
            self.log.line(f"wrote {change.path} ({change.action}, {change.new_sha256[:12]})")
        self.log.line(f"previous files backed up in {applied['backup']}; roll back with --restore "
                      f"{applied['backup_stamp']}")
        return applied

    def write_report(self, promotion: dict[str, object]) -> None:
        corpus = self.corpus()
        report = build_report(
            results=self.results(),
            corpus=corpus_section(corpus, corpus.roots, len(self.live.paths), self.config.probe_quality),
            synthetic_smoke=False,
            profile=self.config.profile.as_dict(),
            provenance={"entrypoint": "predictor-console", "argv": self.config.argv, "args": self.config.as_dict(),
                        "inputs": [vars(i) for i in corpus.inputs],
                        "outputs": [str(self.config.report_path), str(self.log.path)]},
            promotion=promotion,
            probe_quality=self.config.probe_quality,
            recovered_promotion=self.recovered,
        )
        write_report(self.config.report_path, report)
