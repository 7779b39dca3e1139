"""How far to trust a model: conformal margins on rows and target offsets on picks, judged cross-conformally.

Two calibration sets per model, both made only of predictions on sources the model never saw:

- **row residuals** |measured - predicted| in the decision band (measured VMAF >= the lowest
  harness target - 10); their quantile is the half-width of the interval the harness prints
  (``vmaftune.conformal``: ``[point - q, point + q]``);
- **pick scores**: per (ladder, target), the target offset above which the harness's pick stays
  within 1 VMAF of the target (``trainer.learning.pick_offsets``); their quantile is the offset
  an operator adds to the target to hold a miss rate.

Every quantile uses the harness's own rule (type-7 at the finite-sample level
``ceil((n + 1)(1 - alpha)) / n``), so the margin a card states is the one the harness loads.

How well they hold is judged the only honest way: each outer fold's quantile comes from the
other folds' sources alone and is scored on the fold's own rows and picks (cross-conformal).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from trainer.learning.crf_pick import TARGETS, PickSummary, pool
from trainer.learning.pick_offsets import PickCase, summary_at

ALPHAS = (0.05, 0.10, 0.20)
SIDECAR_ALPHA = 0.05  # the harness's default miscoverage (vmaftune.conformal.default_alpha)
BAND_MIN_VMAF = min(TARGETS) - 10.0
MIN_ROWS, MIN_PICKS, MIN_SOURCES = 30, 20, 5
RESIDUAL_DECIMALS = 4


class IntervalRow(TypedDict):
    """One row of ``calibration.interval_table``: the shipped margin at ``alpha`` and how often it covered."""

    alpha: float
    margin_vmaf: float | None  # None: no finite quantile (an empty set)
    row_coverage: float | None


class PickRow(TypedDict):
    """One row of ``calibration.pick_table``: the shipped target offset at ``alpha`` and the picks it makes."""

    alpha: float
    target_offset_vmaf: float | None
    crf_pick: PickSummary | None


def conformal_quantile(scores: Sequence[float] | np.ndarray, alpha: float) -> float:
    """The harness's split-conformal quantile: type-7 at level min(1, ceil((n+1)(1-alpha))/n).

    Computed with the same arithmetic as the harness (lower order statistic plus the fraction of
    the gap), so a margin stated here equals, bit for bit, the one the harness derives from the
    sidecar. NaN for an empty set (the harness then warns and prints a zero-width interval).
    """
    values = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    n = int(values.size)
    if n == 0:
        return float("nan")
    level = min(1.0, math.ceil((n + 1) * (1.0 - alpha)) / n)
    position = (n - 1) * level
    below, above = math.floor(position), math.ceil(position)
    low, high = float(values[below]), float(values[above])  # Python floats: the harness's arithmetic
    return low + (position - below) * (high - low)


@dataclass(frozen=True)
class CalibrationSet:
    """A model's errors on unseen sources, each tagged with its outer fold for cross-conformal judging."""

    residuals: np.ndarray  # float64 |measured - predicted|, in-band rows only
    row_folds: np.ndarray  # int: each residual's outer fold
    row_sources: np.ndarray  # str: each residual's source
    picks: Sequence[PickCase]
    pick_folds: np.ndarray  # int: each pick case's outer fold

    @property
    def n_sources(self) -> int:
        return len(set(self.row_sources.tolist()) | {case.ladder.source for case in self.picks})

    def too_few(self) -> str | None:
        """Why no margin should be shipped from this set, or None."""
        if self.residuals.size < MIN_ROWS:
            return f"{self.residuals.size} in-band rows < {MIN_ROWS}"
        if self.n_sources < MIN_SOURCES:
            return f"{self.n_sources} sources < {MIN_SOURCES}"
        return None

    def picks_too_few(self) -> str | None:
        if not self.picks:
            return "no quality ladders to pick on (bitrate ladders, or fewer than 3 quality points per ladder)"
        if len(self.picks) < MIN_PICKS:
            return f"{len(self.picks)} picks < {MIN_PICKS}"
        return None


def row_set(truth: np.ndarray, predicted: np.ndarray, sources: np.ndarray,
            folds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(residuals, folds, sources) of the in-band rows with a finite prediction."""
    truth = np.asarray(truth, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    keep = (truth >= BAND_MIN_VMAF) & np.isfinite(predicted) & (np.asarray(folds) >= 0)
    # Rounded as the sidecar stores them: the tables, the card and the harness all see the same numbers.
    residuals = np.round(np.abs(truth - predicted)[keep], RESIDUAL_DECIMALS)
    return residuals, np.asarray(folds)[keep], np.asarray(sources).astype(str)[keep]


def cross_quantiles(scores: np.ndarray, folds: np.ndarray, alpha: float) -> dict[int, float]:
    """Each outer fold's quantile, taken from the other folds' scores alone (never its own)."""
    return {int(fold): conformal_quantile(scores[folds != fold], alpha) for fold in np.unique(folds)}


def interval_table(cal: CalibrationSet) -> list[IntervalRow]:
    """Per alpha: the margin from every residual (what ships) and the cross-conformal row coverage."""
    table: list[IntervalRow] = []
    for alpha in ALPHAS:
        margins = cross_quantiles(cal.residuals, cal.row_folds, alpha)
        covered = sum(int(np.sum(cal.residuals[cal.row_folds == fold] <= margin))
                      for fold, margin in margins.items() if np.isfinite(margin))
        table.append({"alpha": alpha, "margin_vmaf": _finite(conformal_quantile(cal.residuals, alpha)),
                      "row_coverage": _round(covered / cal.residuals.size if cal.residuals.size else float("nan"))})
    return table


def pick_table(cal: CalibrationSet) -> list[PickRow]:
    """Per alpha: the target offset from every pick (what ships) and the cross-conformal picks it makes."""
    needed = np.array([case.needed for case in cal.picks], dtype=np.float64)
    table: list[PickRow] = []
    for alpha in ALPHAS:
        summaries = [summary_at([c for c, f in zip(cal.picks, cal.pick_folds, strict=True) if f == fold], offset)
                     for fold, offset in cross_quantiles(needed, cal.pick_folds, alpha).items()
                     if np.isfinite(offset)]
        table.append({"alpha": alpha, "target_offset_vmaf": _finite(conformal_quantile(needed, alpha)),
                      "crf_pick": _rounded(pool(summaries))})
    return table


def calibration_report(cal: CalibrationSet, method: str, model: str) -> dict[str, object]:
    """``codecs[].calibration`` (and ``incumbent.calibration``): both tables, or why there are none."""
    report: dict[str, object] = {
        "status": "ok", "method": method, "model": model, "band_min_vmaf": BAND_MIN_VMAF,
        "n_rows": int(cal.residuals.size), "n_picks": len(cal.picks), "n_sources": cal.n_sources,
        "interval_table": [], "pick_table": [], "plain_pick": None, "pick_status": "ok",
    }
    reason = cal.too_few()
    if reason is not None:
        return {**report, "status": "too-few", "reason": reason, "pick_status": "too-few"}
    report["interval_table"] = interval_table(cal)
    report["residuals"] = sorted(float(r) for r in cal.residuals)  # the sidecar's set
    pick_reason = cal.picks_too_few()
    if pick_reason is not None:
        return {**report, "pick_status": f"too-few: {pick_reason}"}
    report["pick_table"] = pick_table(cal)
    report["plain_pick"] = _rounded(summary_at(cal.picks, 0.0))
    return report


def _round(value: float) -> float | None:
    return round(float(value), 4) if np.isfinite(value) else None


def _rounded(summary: PickSummary | None) -> PickSummary | None:
    """The summary with its metrics rounded as the report shows them (the count stays as it is)."""
    if summary is None:
        return None
    return {"n": summary["n"], "mean_abs_quality_error": _round_metric(summary["mean_abs_quality_error"]),
            "mean_abs_vmaf_error": _round_metric(summary["mean_abs_vmaf_error"]),
            "miss_rate": _round_metric(summary["miss_rate"]),
            "mean_bitrate_overspend_pct": _round_metric(summary["mean_bitrate_overspend_pct"])}


def _round_metric(value: float | None) -> float | None:
    return None if value is None else _round(float(value))


def _finite(value: float) -> float | None:
    """A margin exactly as the harness computes it (not rounded: the card and the sidecar must agree)."""
    return float(value) if np.isfinite(value) else None
