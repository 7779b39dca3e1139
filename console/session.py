"""The console's face over the run service: its events posted to the UI, the UI's commands sent to it.

Everything here runs off the UI thread (the engine in the service's thread, scans and plans in
Textual thread workers) and reports through ``post``. The UI never touches the engine's state
directly; training, cancelling, advice, plans, applies and reports are the service's commands.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from textual.message import Message

from console.messages import CorpusStats, CorpusUpdated, EngineEvent, LogWritten, ProbeCounted
from trainer.run import (
    CodecData,
    CodecResult,
    Corpus,
    LiveCorpus,
    PromotionPlan,
    RunConfig,
    RunLog,
    RunService,
    Wiring,
    describe_probe_overrides,
    open_wiring,
)

ENTRYPOINT = "predictor-console"


class ConsoleSession:
    def __init__(self, config: RunConfig, post: Callable[[Message], None], wiring: Wiring | None = None) -> None:
        self.config = config
        self._own_wiring = wiring is None  # opened here (tests), so closed here; the launcher closes its own
        self.wiring = open_wiring(config) if wiring is None else wiring  # before the UI takes over stderr
        self._post = post
        self.service = RunService(config, ENTRYPOINT, self.wiring, on_line=lambda line: self._post(LogWritten(line)),
                                  on_event=lambda event: self._post(EngineEvent(event)))
        self.live_corpus = LiveCorpus(config, self.service.log.line)

    @property
    def log(self) -> RunLog:
        """The run log, the service's: every line also goes to the console's log pane."""
        return self.service.log

    @property
    def cluster(self) -> object | None:
        """The Dask cluster training runs on, if any (its workers come and go: the status line is polled)."""
        return self.wiring.cluster

    @property
    def recovered(self) -> dict[str, object] | None:
        """What the start found and repaired of an interrupted model-dir write (None: nothing)."""
        return self.service.recovered

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Repair a half-written model directory first, then serve the engine and log the run's settings."""
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
        """Close the service, killing running tasks; close the wiring too if this session opened it."""
        self.service.close(kill=True)
        if self._own_wiring:
            self.wiring.close()

    def busy(self) -> bool:
        """Whether the engine has work queued or running (quitting would stop it)."""
        return self.service.busy()

    # -- corpus ------------------------------------------------------------------------------
    def scan(self) -> CorpusUpdated:
        """Read every corpus file (incrementally where already known)."""
        changed = self.live_corpus.scan()
        return CorpusUpdated(self.live_corpus.stats(), changed, initial=True)

    def refresh(self, paths: set[str]) -> CorpusUpdated:
        """Read the changed ``paths`` again; the message says which codecs' rows changed."""
        changed = self.live_corpus.refresh(paths)
        return CorpusUpdated(self.live_corpus.stats(), changed, initial=False)

    def corpus(self) -> Corpus:
        """The live corpus as read so far, built again only when a read changed it since."""
        return self.live_corpus.corpus()

    def stats(self) -> CorpusStats:
        """The corpus pane's numbers: roots, files, rows and sources per codec, rejections."""
        return self.live_corpus.stats()

    # -- training ---------------------------------------------------------------------------
    def queue(self, codec: str) -> None:
        """Train ``codec`` on the corpus as it is when its turn comes; the job keeps that snapshot
        (rows and file digests) with its verdict, which is what promotion later uses."""
        self.service.train(codec, lambda: self.snapshot(codec))

    def snapshot(self, codec: str) -> CodecData:
        """The codec's training table from the live corpus now, with probes at its (overridden) probe quality."""
        self.live_corpus.corpus()
        self._post(ProbeCounted(self.live_corpus.probe_counts()))  # the corpus is built now: its counts are cheap
        return self.live_corpus.snapshot(codec)

    def advise(self, codec: str) -> dict[str, object]:
        """The data advisor on the table this codec was last judged on (the service's command)."""
        return self.service.advise(codec)

    def cancel(self, codec: str) -> bool:
        """Drop the codec's queued work; False when it had nothing queued or running."""
        return self.service.cancel(codec)

    def results(self) -> dict[str, CodecResult]:
        """Each codec's latest verdict: the one copy, the engine's, which the app reads."""
        return self.service.results()

    def active_codecs(self) -> set[str]:
        """Codecs queued or training now (the quit dialog names them)."""
        return self.service.active_codecs()

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
        self.service.write_live_report(self.live_corpus, promotion, list(written or []))
