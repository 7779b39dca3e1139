"""A codec's verdict: LOSO folds folded through the gate into a status with reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from trainer.core.gate import LOSO_FOLD_COUNT, evaluate_gate
from trainer.learning.baseline import BASELINE_KIND
from trainer.learning.choice_risk import ridge_beats
from trainer.learning.crf_pick import PickSummary, pool
from trainer.learning.ladder_curves import LadderCurve
from trainer.learning.pick_offsets import PickLadder
from trainer.learning.selection import FoldChoice, final_choice

if TYPE_CHECKING:
    from trainer.learning.model import MLPWeights


@dataclass(frozen=True)
class FoldResult:
    codec: str
    fold_index: int
    held_out_sources: tuple[str, ...]
    plcc: float
    srocc: float
    rmse: float
    n_train: int
    n_val: int
    seconds: float
    # The linear baseline (trainer.baseline) on the same fold: what the network must beat.
    baseline_plcc: float = float("nan")
    baseline_rmse: float = float("nan")
    # How well the fold's model picks quality for a target, as the harness uses it (learning.crf_pick).
    crf_pick: PickSummary | None = None
    # The same picks on the held-out clips the harness probed, with its own probe as input (--harness-probes).
    crf_pick_harness_probe: PickSummary | None = None
    # ... and with the 0 kbps the published harness sends (issue #40), as the exported graph recovers it.
    crf_pick_harness_probe_0kbps: PickSummary | None = None
    # Its held-out ladders, measured vs the model's curve, for the console's picture (not in report.json).
    ladders: tuple[LadderCurve, ...] = ()
    # The candidate nested LOSO chose for this fold (learning.selection); None without a nested choice.
    model_choice: FoldChoice | None = None
    # Out of fold, kept compact for the comparison with the shipped model on the same rows
    # (trainer.shipping.incumbent): the held-out row indices, the fold model's predictions there
    # (float32, same order) and its quality picks summarised per held-out source.
    held_out_rows: np.ndarray | None = field(default=None, compare=False, repr=False)
    predictions: np.ndarray | None = field(default=None, compare=False, repr=False)
    crf_pick_by_source: dict[str, PickSummary] | None = field(default=None, compare=False, repr=False)
    # With --harness-probes: the fold model on its held-out rows as the harness serves them (its own probe of
    # each clip it probed), what calibration is made of; None: ``predictions`` are already that.
    served_predictions: np.ndarray | None = field(default=None, compare=False, repr=False)
    # Every held-out ladder with the fold model's curve along it (at the served probe inputs): the pick calibration set
    # (trainer.learning.calibration_sets), never in report.json.
    pick_ladders: tuple[PickLadder, ...] = field(default=(), compare=False, repr=False)

    def as_report(self) -> dict[str, object]:
        return {
            "fold_index": self.fold_index,
            "held_out_sources": list(self.held_out_sources),
            "plcc": finite_or_none(self.plcc),
            "srocc": finite_or_none(self.srocc),
            "rmse": finite_or_none(self.rmse),
            "n_train": self.n_train,
            "n_val": self.n_val,
            "crf_pick": self.crf_pick,
            "crf_pick_harness_probe": self.crf_pick_harness_probe,
            "crf_pick_harness_probe_0kbps": self.crf_pick_harness_probe_0kbps,
            "model_choice": self.model_choice.as_report() if self.model_choice else None,
        }


def finite_or_none(value: float) -> float | None:
    """Report numbers are strict JSON: an undefined metric is null, never NaN."""
    return float(value) if np.isfinite(value) else None


STATUSES = ("pass", "fail", "insufficient-sources", "missing-rows", "error")
SYNTHETIC_REASON = "synthetic runs are diagnostic only: a synthetic corpus never promotes a model"


@dataclass
class CodecResult:
    codec: str
    status: str
    n_rows_total: int
    n_distinct_sources: int
    failure_reasons: list[str] = field(default_factory=list)
    folds: list[FoldResult] = field(default_factory=list)
    corpus_provenance: list[dict[str, object]] = field(default_factory=list)
    mean_plcc: float | None = None
    plcc_spread: float | None = None
    # The shipped model against this one on the rows it never saw (trainer.shipping.incumbent); None: not compared.
    incumbent: dict[str, object] | None = None
    advice: dict[str, object] | None = None  # the data advisor's findings (``--advise``), None when not asked
    # The final model choice as a report recorded it (review mode): what shipped, even where the folds
    # of an older report lack what it was computed from. None: computed from the folds.
    recorded_choice: dict[str, object] | None = None
    # How far to trust the model a PASS would ship: conformal margins from its LOSO out-of-fold errors
    # (trainer.learning.calibration); None before the folds are in.
    calibration: dict[str, object] | None = None
    # The harness's analytical curve on the same held-out ladders, and whether the model that will be in the
    # model directory picks worse than it (trainer.learning.floor); None: no picks to judge.
    harness_curve: dict[str, object] | None = None

    def _mean(self, attr: str) -> float | None:
        values = [getattr(f, attr) for f in self.folds]
        if not values or not all(np.isfinite(values)):
            return None
        return float(np.mean(values))

    def crf_pick(self) -> PickSummary | None:
        """The folds' quality picks pooled (None on a corpus without quality ladders)."""
        return pool([f.crf_pick for f in self.folds])

    def crf_pick_harness_probe(self) -> PickSummary | None:
        """The folds' picks with the harness's own probe as input, pooled (None without --harness-probes)."""
        return pool([f.crf_pick_harness_probe for f in self.folds])

    def crf_pick_harness_probe_0kbps(self) -> PickSummary | None:
        """The same picks with the 0 kbps the published harness sends (None without --harness-probes)."""
        return pool([f.crf_pick_harness_probe_0kbps for f in self.folds])

    def model_choice(self) -> dict[str, object] | None:
        """The full-corpus model's candidate, from the folds' outer scores; None without a nested choice."""
        if self.recorded_choice is not None:
            return self.recorded_choice
        folds = sorted(self.folds, key=lambda f: f.fold_index)
        choices = [f.model_choice for f in folds if f.model_choice is not None]
        choice = final_choice(choices) if len(choices) == len(folds) else None
        if choice is not None and (beats := ridge_beats(choices)) is not None:
            choice["ridge_beats"] = beats
        return choice

    def baseline_report(self) -> dict[str, object] | None:
        """The linear baseline on the same folds, beside the model's numbers; None before training."""
        if not self.folds:
            return None
        ordered = sorted(self.folds, key=lambda f: f.fold_index)
        return {
            "kind": BASELINE_KIND,
            "mean_plcc": self._mean("baseline_plcc"),
            "mean_rmse": self._mean("baseline_rmse"),
            "folds": [{"fold_index": f.fold_index, "plcc": finite_or_none(f.baseline_plcc),
                       "rmse": finite_or_none(f.baseline_rmse)} for f in ordered],
        }

    def as_report(self) -> dict[str, object]:
        return {
            "codec": self.codec,
            "status": self.status,
            "mean_plcc": self.mean_plcc,
            "plcc_spread": self.plcc_spread,
            "mean_srocc": self._mean("srocc"),
            "mean_rmse": self._mean("rmse"),
            "n_rows_total": self.n_rows_total,
            "n_distinct_sources": self.n_distinct_sources,
            "failure_reasons": list(self.failure_reasons),
            "corpus_provenance": list(self.corpus_provenance),
            "folds": [f.as_report() for f in sorted(self.folds, key=lambda f: f.fold_index)],
            "baseline": self.baseline_report(),
            "crf_pick": self.crf_pick(),
            "crf_pick_harness_probe": self.crf_pick_harness_probe(),
            "crf_pick_harness_probe_0kbps": self.crf_pick_harness_probe_0kbps(),
            "harness_curve": self.harness_curve,
            "model_choice": self.model_choice(),
            "incumbent": self.incumbent,
            "calibration": self.calibration,
            "training_seconds": round(sum(f.seconds for f in self.folds), 3),
            "advice": self.advice,
        }


def untrainable_result(
    codec: str, n_rows: int, n_sources: int, provenance: list[dict[str, object]]
) -> CodecResult | None:
    """The verdict reached without training, or None when LOSO can run."""
    if n_rows == 0:
        reason = "no accepted rows for this codec in the corpus"
        return CodecResult(codec, "missing-rows", 0, 0, [reason], corpus_provenance=provenance)
    if n_sources < LOSO_FOLD_COUNT:
        reason = f"{n_sources} distinct sources < {LOSO_FOLD_COUNT} needed for {LOSO_FOLD_COUNT}-fold LOSO"
        return CodecResult(codec, "insufficient-sources", n_rows, n_sources, [reason], corpus_provenance=provenance)
    return None


def judged_result(
    codec: str,
    n_rows: int,
    n_sources: int,
    folds: list[FoldResult],
    provenance: list[dict[str, object]],
    synthetic: bool,
) -> CodecResult:
    """A codec's verdict from its folds, through the gate; a synthetic run can never pass.

    Parameters
    ----------
    codec : str
        The codec judged.
    n_rows, n_sources : int
        Its training table's rows and distinct sources, for the report.
    folds : list of FoldResult
        Its LOSO folds in any order (judged in fold order).
    provenance : list of dict
        The corpus files its rows came from (the report's ``codecs[].provenance``).
    synthetic : bool
        Whether the run trains on the synthetic smoke corpus: a pass then becomes a fail with ``SYNTHETIC_REASON``.
    """
    ordered = sorted(folds, key=lambda f: f.fold_index)
    verdict = evaluate_gate([f.plcc for f in ordered])
    reasons = list(verdict.reasons)
    status = "pass" if verdict.passed else "fail"
    if synthetic and status == "pass":
        status = "fail"
        reasons.append(SYNTHETIC_REASON)
    return CodecResult(
        codec=codec,
        status=status,
        n_rows_total=n_rows,
        n_distinct_sources=n_sources,
        failure_reasons=reasons,
        folds=ordered,
        corpus_provenance=provenance,
        mean_plcc=finite_or_none(verdict.mean_plcc) if verdict.mean_plcc is not None else None,
        plcc_spread=finite_or_none(verdict.plcc_spread) if verdict.plcc_spread is not None else None,
    )


def error_result(codec: str, n_rows: int, n_sources: int, reason: str) -> CodecResult:
    return CodecResult(codec, "error", n_rows, n_sources, [reason])


@dataclass(frozen=True)
class FinalModel:
    """A passing codec retrained on its whole corpus: the weights that would ship, or why there are none."""

    codec: str
    weights: MLPWeights | None
    error: str | None
