"""The run service: one run end to end, whichever face drives it.

It owns the engine on the wired executor (pool or cluster), the run log, the judged verdicts, the
promotion plan and its apply, the report and the exit code. The batch drains it once and says yes
up front (``--yes``); the console sends it commands (train, cancel, promote, advise) and renders
its events. Neither face builds a report, a plan or an executor of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from trainer.engine.engine import TrainingEngine, serve
from trainer.ingest.corpus import CodecData, Corpus
from trainer.learning.events import Event
from trainer.learning.results import CodecResult
from trainer.outputs.advice_text import advice_lines
from trainer.outputs.describe import describe_event
from trainer.outputs.report import RunSummary, utc_stamp
from trainer.run.advise import advise
from trainer.run.config import RunConfig
from trainer.run.exits import exit_for_outcome
from trainer.run.live_corpus import LiveCorpus
from trainer.run.promotion import (
    REGRESSION_OVERRIDE,
    PromotionOutcome,
    PromotionPlan,
    apply_promotion,
    plan_from_verdicts,
)
from trainer.run.report_writer import ReportInputs, assemble_report, write_run_report
from trainer.run.runlog import RunLog
from trainer.run.wiring import Wiring, wire_executor
from trainer.shipping.incumbent import incumbent_judge
from trainer.shipping.journal import describe_recovery, recover_model_dir
from trainer.shipping.lock import ModelDirLocked, PromotionError

__all__ = ["RunService", "open_wiring", "recover", "describe_recovery"]


def open_wiring(config: RunConfig) -> Wiring:
    """The executor for ``config``: connect its cluster (ClusterUnavailable: exit 2) or prepare the pool."""
    return wire_executor(config.scheduler, config.scheduler_timeout_s, config.workers)


def recover(model_dir: Path) -> dict[str, object] | None:
    """Repair a model-dir set a killed run left half-written (first of all); what was found, or None."""
    return recover_model_dir(model_dir)


class RunService:
    """One run: engine, log, verdicts, promotion and report over one wiring. Thread-safe commands."""

    def __init__(self, config: RunConfig, entrypoint: str, wiring: Wiring, *, stamp: str | None = None,
                 echo: TextIO | None = None, on_line: Callable[[str], None] | None = None,
                 on_event: Callable[[Event], None] | None = None, retrain_early: bool = False) -> None:
        """``retrain_early``: the engine starts each full-corpus retrain when its codec passes (the batch)."""
        self.config = config
        self.entrypoint = entrypoint
        self.wiring = wiring
        self.stamp = stamp or utc_stamp()
        self.log = RunLog(config.out_dir / f"train_{self.stamp}.log", echo=echo, listener=on_line)
        self.recovered: dict[str, object] | None = None
        self._on_event = on_event
        wiring.on_refusal(self.log.line)  # a late worker of another build: named in the log
        self.engine = TrainingEngine(
            profile=config.profile,
            seed=config.seed,
            emit=self._emit,
            executor_factory=wiring.factory,
            workers=wiring.capacity,
            synthetic=config.synthetic_smoke,
            compare=incumbent_judge(config.model_dir),
            retrain_early=retrain_early,
        )
        self._stop = threading.Event()
        self._serving: threading.Thread | None = None

    def _emit(self, event: Event) -> None:
        # The listener first: the batch's report is on disk when its verdict line appears.
        if self._on_event is not None:
            self._on_event(event)
        self.log.line(describe_event(event))

    # -- lifecycle -------------------------------------------------------------------------
    def recover_logged(self) -> None:
        """The console's recovery: a failure is a log line, never the end of the console."""
        try:
            self.recovered = recover(self.config.model_dir)
        except (ModelDirLocked, PromotionError, OSError) as exc:
            self.log.line(f"model directory: an interrupted promotion could not be repaired: {exc}")
            return
        if self.recovered is not None:
            self.log.line(describe_recovery(self.recovered))

    def serve_in_background(self) -> None:
        """Start the engine on a thread of its own; it serves commands until ``close``."""
        self.engine.warm_up()
        self._serving = threading.Thread(target=serve, args=(self.engine, self._stop, self._emit), name="engine",
                                         daemon=True)
        self._serving.start()

    @property
    def closing(self) -> bool:
        return self._stop.is_set()

    def close(self, kill: bool = True) -> None:
        """Stop serving, end the workers (``kill``: running tasks too), close the log."""
        self._stop.set()
        if self._serving is not None and self._serving.is_alive():
            self._serving.join(timeout=10)
        self.engine.close(kill=kill)
        self.log.close()

    def executor_status(self) -> str:
        return self.wiring.status()

    # -- commands --------------------------------------------------------------------------
    def train(self, codec: str, load: Callable[[], CodecData]) -> None:
        """Queue ``codec``; ``load`` gives its table when its turn comes (the job keeps that snapshot)."""
        self.engine.submit(codec, load)

    def cancel(self, codec: str) -> bool:
        return self.engine.cancel(codec)

    def busy(self) -> bool:
        return self.engine.is_busy()

    def active_codecs(self) -> set[str]:
        return self.engine.active_codecs()

    def results(self) -> dict[str, CodecResult]:
        return dict(self.engine.results)

    def advise(self, codec: str) -> dict[str, object]:
        """The data advisor on the table ``codec`` was last judged on (same seed, same folds).

        Runs on an executor of its own from the same factory, so training keeps its workers' queue.
        """
        _verdict, data = self.engine.results.judged().get(codec, (None, None))
        if data is None:
            raise RuntimeError(f"{codec} has no judged data to advise on")
        advice = advise({codec: data}, self.config.profile, self.config.seed, self.wiring.factory, self._stop.is_set)
        if codec not in advice:
            raise RuntimeError("the console is closing")
        for line in advice_lines(advice[codec]):
            self.log.line(f"{codec} {line}")
        return advice[codec]

    def plan(self, allow_regression: Collection[str] = ()) -> PromotionPlan:
        """The promotion plan for the verdicts as they stand (see ``plan_from_verdicts``)."""
        return plan_from_verdicts(self.engine, self.config.model_dir, self.config.report_path, allow_regression,
                                  self.log, REGRESSION_OVERRIDE)

    def apply(self, plan: PromotionPlan) -> PromotionOutcome:
        """The operator said yes: write the plan (one promotion path with the batch's ``--yes``)."""
        return apply_promotion(plan, self.config.model_dir, self.config.out_dir / "backup", utc_stamp(), self.log)

    # -- report and exit code --------------------------------------------------------------
    def write_report(self, state: ReportInputs) -> dict[str, object]:
        report = assemble_report(self.config, self.entrypoint, state)
        write_run_report(self.config.report_path, report)
        return report

    def write_live_report(self, live: LiveCorpus, promotion: dict[str, object], written: list[str]) -> None:
        """The console's report: the verdicts so far and the live corpus as it is now."""
        corpus = live.corpus()
        self.write_report(self.report_inputs(results=self.results(), corpus=corpus, present_roots=corpus.roots,
                                             n_files=live.n_files, promotion=promotion, written=written))

    def report_inputs(self, *, results: Mapping[str, CodecResult], corpus: Corpus | None,
                      present_roots: Sequence[str], n_files: int, promotion: dict[str, object],
                      written: list[str] | None = None, interrupted_by: str | None = None, error: str | None = None,
                      in_progress: bool = False) -> ReportInputs:
        """A ReportInputs with this run's executor, log and recovery filled in.

        Parameters
        ----------
        results, corpus, present_roots, n_files, promotion, written, interrupted_by, error, in_progress : fields
            The fields of ``ReportInputs`` (run.report_writer) of the same names; ``written`` None is none.
        """
        return ReportInputs(results=results, corpus=corpus, present_roots=present_roots, n_files=n_files,
                            executor=self.wiring.info, log_path=self.log.path, promotion=promotion,
                            written=[] if written is None else written, interrupted_by=interrupted_by,
                            error=error, recovered=self.recovered, in_progress=in_progress)

    @staticmethod
    def exit_code(summary: RunSummary, n_selected: int, promotion: dict[str, object],
                  signal_exit: int | None, internal_error: bool) -> int:
        return exit_for_outcome(summary["n_pass"], n_selected,
                                promotion_failed=bool(promotion.get("error")), signal_exit=signal_exit,
                                internal_error=internal_error)
