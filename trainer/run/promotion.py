"""The one promotion path: retrain what passed, plan every model-dir change, apply it given a yes.

The batch says yes up front (``--yes``) and plans once, after training; the console plans on
request from the verdicts on screen, asks, then applies. Both plan through ``plan_from_verdicts`` and
apply through ``apply_promotion``: a stop before the apply writes nothing; one during the apply is
only recorded, so it completes (or, on a write error, rolls back) first.
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import wait
from dataclasses import dataclass, field
from pathlib import Path

from trainer.core.codecs import SUPPORTED_CODECS
from trainer.engine.engine import TrainingEngine
from trainer.run.runlog import RunLog
from trainer.run.shutdown import StopRequest
from trainer.shipping.apply import apply_plan
from trainer.shipping.incumbent import regression
from trainer.shipping.lock import ModelDirLocked, PromotionError
from trainer.shipping.plan import PromotionPlan, plan_promotion

__all__ = ["PromotionOutcome", "PromotionPlan", "apply_promotion", "plan_from_verdicts", "regression"]

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
    """Write the plan's changes (the operator said yes). A model-dir error is recorded, not raised.

    Parameters
    ----------
    plan : PromotionPlan
        The file changes to write, as planned by ``plan_from_verdicts``.
    model_dir : Path
        The model directory the changes replace files in (under its lock).
    backup_dir : Path
        Where the files replaced are backed up, in a folder of their own named from ``stamp``.
    stamp : str
        The UTC timestamp naming the backup folder (``--restore`` takes it back).
    log : RunLog
        The run log: each file written or removed, the backup, and how to roll back.
    stop : StopRequest, optional
        A stop already requested skips the apply (nothing written); one arriving during it is only recorded.
    """
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


def plan_from_verdicts(engine: TrainingEngine, model_dir: Path, report_path: Path, allow_regression: Collection[str],
                       log: RunLog, override_by: str = "--allow-regression",
                       wait_s: float = FINAL_MODEL_TIMEOUT_S) -> PromotionPlan:
    """The one planner, for both faces: retrain the passing codecs on exactly the table their verdict judged,
    then plan every file change.

    Every table comes from the engine's judged verdicts, already in memory as the typed columns it
    trained on: no stage after training reads or parses a corpus file again. The rows and digests are
    the verdict's own job's, never a live corpus's (which may have grown since). A codec with a newer
    job queued or training is left out, blocked with the reason: its old verdict is not on screen to be
    reviewed; it can be promoted once the newer job has its verdict.

    The retrains are the engine's (``train_final`` reuses one started for the same table): in a batch
    they started at each verdict and the batch's one drain ran them, so ``wait_s`` is 0 and the planner
    never drives the engine; the console's engine serves on its own thread, and the planner waits.

    Parameters
    ----------
    engine : TrainingEngine
        The engine whose judged verdicts are planned from and whose ``train_final`` retrains the passing codecs.
    model_dir : Path
        The model directory whose files the plan would replace.
    report_path : Path
        The run's report, named on the cards by its file name only.
    allow_regression : collection of str
        Codecs that may replace a shipped model that scores better on the same rows.
    log : RunLog
        The run log: each codec left out because a newer job is training.
    override_by : str
        Who allowed those regressions, as the card says it.
    wait_s : float
        Seconds to wait for the retrains (0 in a batch, where they already ran); one not done is not planned.
    """
    judged = engine.results.judged()  # one consistent (verdict, data) pair per codec
    training = engine.active_codecs()
    results = {codec: result for codec, (result, _data) in judged.items() if codec not in training}
    datas = {codec: data for codec, (_result, data) in judged.items() if data is not None}
    passing = [c for c, r in results.items() if r.status == "pass" and not datas[c].n_generated]
    retrains = {c: engine.train_final(datas[c]) for c in passing}
    wait(retrains.values(), timeout=wait_s)
    finals = {codec: future.result() for codec, future in retrains.items() if future.done()}
    plan = plan_promotion(results, finals, datas, model_dir, str(report_path), allow_regression, override_by)
    for codec in sorted(set(judged) & training, key=SUPPORTED_CODECS.index):
        reason = (f"a newer job is training on rows added since its {judged[codec][0].status} verdict; "
                  "promote after that job's verdict")
        plan.blocked[codec] = [reason]
        log.line(f"{codec}: not in the promotion plan: {reason}")
    return plan
