"""The one promotion path: retrain what passed, plan every model-dir change, apply it given a yes.

The batch says yes up front (``--yes``) and plans once, after training; the console plans on
request from the verdicts on screen, asks, then applies. Both go through ``apply_promotion``:
a stop before the apply writes nothing; one during the apply is only recorded, so it completes
(or, on a write error, rolls back) first.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from pathlib import Path

from trainer.core.codecs import SUPPORTED_CODECS
from trainer.ingest.corpus import CodecData
from trainer.learning.events import CodecFinished, CodecQueued, Event
from trainer.learning.planning import fold_groups
from trainer.learning.results import FinalModel
from trainer.learning.selection import nested_applies
from trainer.run.engine import TrainingEngine
from trainer.run.runlog import RunLog
from trainer.run.shutdown import StopRequest
from trainer.shipping.apply import apply_plan
from trainer.shipping.incumbent import regression
from trainer.shipping.lock import ModelDirLocked, PromotionError
from trainer.shipping.plan import PromotionPlan, plan_promotion

__all__ = ["EarlyRetrains", "PromotionOutcome", "PromotionPlan", "FinalsCache", "apply_promotion",
           "plan_after_batch", "plan_from_verdicts", "regression"]

FINAL_MODEL_TIMEOUT_S = 600
REGRESSION_OVERRIDE = "the operator confirmed it a second time in the console"


@dataclass
class PromotionOutcome:
    """The report's promotion section, the files written, and the error that kept them unwritten."""

    section: dict[str, object]
    written: list[str] = field(default_factory=list)
    error: ModelDirLocked | PromotionError | None = None


def _skipped(stop: StopRequest, log: RunLog) -> str:
    log.line(f"{stop.reason} before the promotion plan was applied: nothing written to the model directory")
    return f"{stop.reason} before the plan was applied; nothing was written"


def apply_promotion(plan: PromotionPlan, model_dir: Path, backup_dir: Path, stamp: str, log: RunLog,
                    stop: StopRequest | None = None) -> PromotionOutcome:
    """Write the plan's changes (the operator said yes). A model-dir error is recorded, not raised."""
    section: dict[str, object] = {**plan.as_report(), "applied": [], "backup": None}
    if stop is not None and stop.requested:  # it arrived while the plan was being built
        return PromotionOutcome({**section, "skipped": _skipped(stop, log)})
    try:
        section.update(apply_plan(plan, model_dir, backup_dir, stamp))
    except (ModelDirLocked, PromotionError) as exc:
        section["error"] = str(exc)
        log.line(f"promotion not applied: {exc}")
        return PromotionOutcome(section, error=exc)
    for change in plan.changes:
        log.line(f"{'removed' if change.content is None else 'wrote'} {change.path} ({change.action}, "
                 f"{(change.new_sha256 or 'removed')[:12]})")
    log.line(f"applied {len(plan.changes)} change(s); previous files in {section['backup']}")
    log.line(f"roll back with: --restore {section['backup_stamp']}")
    if stop is not None and stop.requested:
        section["interrupted"] = f"{stop.reason} while applying: the apply completed first"
        log.line(f"{stop.reason} while the plan was being applied: it completed before stopping")
    return PromotionOutcome(section, [c.path for c in plan.changes])


class EarlyRetrains:
    """The batch's full-corpus retrains, each started the moment its codec passes.

    Started after the last verdict, the retrains of a 14-codec run queued behind its slowest codec
    while workers idled; started at each verdict they fill the pool while other codecs still train.
    They train on the very table the verdict judged, which in a batch is what a re-read gives.

    A codec whose folds are tasks of their own (``split_folds_rows``) starts its retrain as soon as it is
    queued, behind its five fold tasks: five folds on two workers leave one idle beside the fifth, and the
    retrain fills it. Such a table never has a nested model choice (``NESTED_MAX_ROWS``), so the model is
    the one its verdict would have asked for; if the codec fails, the retrain is not used.
    """

    def __init__(self) -> None:
        self.engine: TrainingEngine | None = None
        self.started: dict[str, tuple[CodecData, Future[FinalModel]]] = {}

    def on_event(self, event: Event) -> None:
        if isinstance(event, CodecQueued) and self.engine is not None:
            self._start_beside_folds(event.codec)
        if not isinstance(event, CodecFinished) or event.result.status != "pass" or self.engine is None:
            return
        codec = event.result.codec
        _result, data = self.engine.results.judged().get(codec, (None, None))
        if data is not None and not data.n_generated and codec not in self.started:
            self.started[codec] = (data, self.engine.train_final(data))


    def _start_beside_folds(self, codec: str) -> None:
        assert self.engine is not None
        data, profile = self.engine.training_data(codec), self.engine.profile
        if (data is None or data.n_generated or codec in self.started or len(fold_groups(profile, data.n_rows)) == 1
                or nested_applies(profile, data.n_rows, 2)):
            return
        self.started[codec] = (data, self.engine.train_final(data))


def plan_after_batch(engine: TrainingEngine, codecs: list[str], loaders: Mapping[str, Callable[[], CodecData]],
                     model_dir: Path, report_path: Path, allow_regression: bool, log: RunLog,
                     stop: StopRequest, early: EarlyRetrains | None = None) -> PromotionPlan | str:
    """Retrain the passing codecs on everything (unless ``early`` did) and plan; the skip reason
    instead if a stop came first."""
    results = {c: engine.results[c] for c in codecs}
    passing = [c for c, r in results.items() if r.status == "pass"]
    started = early.started if early is not None else {}
    # Every judged codec's table (a kept model's sidecar and card name its corpus); passing ones re-read, as retrained.
    judged = {codec: data for codec, (_result, data) in engine.results.judged().items() if data is not None}
    datas = {**judged, **{codec: started[codec][0] if codec in started else loaders[codec]() for codec in passing}}
    retrains = {codec: started[codec][1] if codec in started else engine.train_final(datas[codec])
                for codec in passing if not datas[codec].n_generated}
    engine.run_until_idle(lambda: stop.requested)
    if stop.requested:
        return _skipped(stop, log)
    finals = {codec: future.result() for codec, future in retrains.items() if future.done()}
    plan = plan_promotion(results, finals, datas, model_dir, str(report_path),
                          allow_regression=codecs if allow_regression else ())
    for line in plan.describe():
        log.line(line)
    return plan


FinalsCache = dict[str, tuple[CodecData, FinalModel]]


def plan_from_verdicts(engine: TrainingEngine, finals_cache: FinalsCache, model_dir: Path, report_path: Path,
                       allow_regression: Collection[str], log: RunLog) -> PromotionPlan:
    """Retrain passing codecs on exactly the data their verdict judged, then plan every file change.

    The rows and corpus digests come from the verdict's own job, never from a live corpus (which
    may have grown since). A codec with a newer job queued or training is left out, blocked with
    the reason: its old verdict is not on screen to be reviewed; it can be promoted once the newer
    job has its verdict. A retrain is reused while its codec's judged data is the same, so the plan
    asked for again after the operator allowed a regression ships the very model the first showed.
    """
    judged = engine.results.judged()  # one consistent (verdict, data) pair per codec
    training = engine.active_codecs()
    results = {codec: result for codec, (result, _data) in judged.items() if codec not in training}
    datas = {codec: data for codec, (_result, data) in judged.items() if data is not None}
    passing = [c for c, r in results.items() if r.status == "pass" and not datas[c].n_generated]
    reused = {c: finals_cache[c][1] for c in passing if c in finals_cache and finals_cache[c][0] is datas[c]}
    retrains = {c: engine.train_final(datas[c]) for c in passing if c not in reused}
    wait(retrains.values(), timeout=FINAL_MODEL_TIMEOUT_S)
    finals = {**reused, **{codec: future.result() for codec, future in retrains.items() if future.done()}}
    finals_cache.update({c: (datas[c], f) for c, f in finals.items() if f.weights is not None})
    plan = plan_promotion(results, finals, datas, model_dir, str(report_path), allow_regression, REGRESSION_OVERRIDE)
    for codec in sorted(set(judged) & training, key=SUPPORTED_CODECS.index):
        reason = (f"a newer job is training on rows added since its {judged[codec][0].status} verdict; "
                  "promote after that job's verdict")
        plan.blocked[codec] = [reason]
        log.line(f"{codec}: not in the promotion plan: {reason}")
    return plan
