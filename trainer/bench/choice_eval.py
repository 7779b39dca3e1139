"""Judging model-choice rules over many small real corpora drawn from a large one.

Real corpora have 9-20 sources, and three of them cannot tell two choice rules apart. A corpus with
hundreds of real sources (the YT-UGC hulls: 969) can: draw many small corpora from it, run the default
profile's nested LOSO on each, and read off what every rule (learning.choice_rule) would have scored
against the ridge on the same folds. Every rule reads the same per-source inner scores of one training
(``FoldChoice.rule_choices``), so the differences between rules are the rules' alone.

Pure functions of plain data here; the bench section that trains and prints is bench.choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from trainer.ingest.corpus import CodecData
from trainer.learning.results import FoldResult

# Fixed before the first draw, so the subsets are the same on every machine and every run.
SUBSET_SEED = 37
# Below the ridge by more than this is "worse" (issue #37): the share of such subsets is the risk.
PLCC_MARGIN = 0.005
RMSE_MARGIN = 0.5


@dataclass(frozen=True)
class Subset:
    """One small corpus drawn from a big one: its id (size and draw) and its sources, sorted."""

    name: str
    sources: tuple[str, ...]


def draw_subsets(sources: Iterable[object], sizes: Sequence[int], per_size: int,
                 seed: int = SUBSET_SEED) -> list[Subset]:
    """``per_size`` random subsets of each size, without replacement within a subset; seeded, order-stable."""
    names = np.array(sorted(set(map(str, sources))))
    rng = np.random.default_rng(seed)
    drawn: list[Subset] = []
    for size in sizes:
        if size > names.size:
            raise ValueError(f"cannot draw {size} sources from a corpus of {names.size}")
        for draw in range(per_size):
            picked = rng.choice(names, size=size, replace=False)
            drawn.append(Subset(f"{size}-{draw:02d}", tuple(sorted(map(str, picked)))))
    return drawn


def subset_data(data: CodecData, subset: Subset, keep_harness: bool = False) -> CodecData:
    """The codec table restricted to the subset's sources (every per-row array cut alike); the harness's
    probes of its clips too with ``keep_harness``, else none."""
    rows = np.isin(data.sources, np.array(subset.sources))
    arrays = ("features", "target", "sources", "encode_kbps", "ladders", "quality_stated")
    cut = {name: getattr(data, name)[rows] for name in arrays if getattr(data, name) is not None}
    harness = None
    if keep_harness and data.harness is not None:
        harness = replace(data.harness, probe=data.harness.probe[rows])  # its one per-row array
    return replace(data, **cut, harness=harness)


@dataclass(frozen=True)
class RuleScore:
    """What one rule's choice scored on one run's outer folds, beside the ridge on the same folds."""

    plcc: float
    rmse: float
    ridge_plcc: float
    ridge_rmse: float


def rule_scores(folds: Sequence[FoldResult], rules: Sequence[str]) -> dict[str, RuleScore]:
    """Each rule's mean fold PLCC and RMSE on these folds, had it chosen every fold's model.

    A fold without a nested choice (one candidate, or too few sources) scores its one model for every rule.
    """
    ridge_plcc = float(np.mean([f.baseline_plcc for f in folds]))
    ridge_rmse = float(np.mean([f.baseline_rmse for f in folds]))
    scores: dict[str, RuleScore] = {}
    for rule in rules:
        plccs, rmses = [], []
        for fold in folds:
            choice = fold.model_choice
            chosen = None if choice is None else choice.rule_choices.get(rule)
            if chosen is None or choice is None:
                plccs.append(fold.plcc)
                rmses.append(fold.rmse)
                continue
            plccs.append(_number(choice.outer_plcc.get(chosen)))
            rmses.append(_number(choice.outer_rmse.get(chosen)))
        scores[rule] = RuleScore(float(np.mean(plccs)), float(np.mean(rmses)), ridge_plcc, ridge_rmse)
    return scores


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


@dataclass(frozen=True)
class RuleSummary:
    """One rule over many subsets: mean differences from the ridge, the worst decile, the share below it."""

    rule: str
    n_subsets: int
    mean_plcc_delta: float
    worst_decile_plcc_delta: float  # 10th percentile of (rule - ridge) PLCC
    share_below_plcc: float  # subsets with rule < ridge - PLCC_MARGIN
    mean_rmse_delta: float
    worst_decile_rmse_delta: float  # 90th percentile of (rule - ridge) RMSE
    share_above_rmse: float  # subsets with rule > ridge + RMSE_MARGIN
    mean_plcc: float
    mean_ridge_plcc: float


def summarise(per_subset: dict[str, list[RuleScore]], rule: str) -> RuleSummary:
    """``per_subset``: subset name -> that rule's scores over seeds; each subset first averages its seeds."""
    plcc = np.array([np.mean([s.plcc for s in seeds]) for seeds in per_subset.values()])
    ridge_plcc = np.array([np.mean([s.ridge_plcc for s in seeds]) for seeds in per_subset.values()])
    rmse = np.array([np.mean([s.rmse for s in seeds]) for seeds in per_subset.values()])
    ridge_rmse = np.array([np.mean([s.ridge_rmse for s in seeds]) for seeds in per_subset.values()])
    d_plcc, d_rmse = plcc - ridge_plcc, rmse - ridge_rmse
    return RuleSummary(
        rule=rule, n_subsets=int(plcc.size),
        mean_plcc_delta=float(np.nanmean(d_plcc)),
        worst_decile_plcc_delta=float(np.nanpercentile(d_plcc, 10)),
        share_below_plcc=float(np.mean(~(d_plcc >= -PLCC_MARGIN))),  # NaN (a constant model) counts as below
        mean_rmse_delta=float(np.nanmean(d_rmse)),
        worst_decile_rmse_delta=float(np.nanpercentile(d_rmse, 90)),
        share_above_rmse=float(np.mean(~(d_rmse <= RMSE_MARGIN))),
        mean_plcc=float(np.nanmean(plcc)), mean_ridge_plcc=float(np.nanmean(ridge_plcc)),
    )
