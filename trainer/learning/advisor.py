"""The data advisor: how many sources would make a codec pass, and which sources it gets wrong.

``plan_advice`` turns a codec's table into one ``AdviceTask`` per outer LOSO fold (the same folds
the gate judged); ``assemble_advice`` folds their outcomes into the report's ``advice`` section:
the learning curve (mean fold PLCC and spread against training sources per fold), saturating
fits with a range from the draws, where each crosses its ADR-0303 bound, a verdict, and the
per-source errors with outliers.

Units: a curve point's ``n_sources`` counts the sources each fold model trained on; every
``sources_for_*`` counts the corpus's distinct sources, like ``sources_now``, because that is
what an operator collects (5-fold LOSO trains on all but about a fifth of them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict

import numpy as np

from trainer.core.gate import LOSO_FOLD_COUNT, SHIP_GATE_MEAN_PLCC, SHIP_GATE_PLCC_SPREAD_MAX
from trainer.core.seeds import stable_seed
from trainer.ingest.corpus import CodecData
from trainer.learning.advice_task import AdviceOutcome, AdviceTask, merge_parts, split_fold
from trainer.learning.folds import fold_masks
from trainer.learning.learning_curve import MIN_POINTS, CurveFit, Estimate, estimate_from, fit_with_range
from trainer.learning.profiles import TrainingProfile
from trainer.learning.source_errors import mark_outliers

DRAWS_PER_SIZE = 3
SMALLEST_SIZE = 3
# Curve sizes below the largest: every count up to 6, then steps of about x1.5.
LADDER = (3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
BEYOND_COUNTING = 1_000_000
FAR_BEYOND = 10  # an estimate past this many times the current sources is a direction, not a number
VERDICTS = ("more-sources-likely-enough", "not-reachable-with-these-inputs", "too-few-points")


class CurvePoint(TypedDict):
    """One size on the learning curve: its draws' mean fold PLCC and spread, and each draw's own."""

    n_sources: int
    mean_plcc: float
    spread: float
    draws: list[dict[str, float]]


def curve_sizes(largest: int) -> tuple[int, ...]:
    """Training-source counts to measure: the ladder below 90% of ``largest``, then ``largest``."""
    if largest < SMALLEST_SIZE:
        return ()
    return (*(s for s in LADDER if s <= 0.9 * largest), largest)


def corpus_sources_for(train_sources: float) -> float:
    """Distinct corpus sources whose every LOSO fold trains on at least ``train_sources`` sources.

    The smallest fold trains on ``n - ceil(n/5) = floor(4n/5)`` of ``n`` sources. Past
    ``BEYOND_COUNTING`` sources the answer is "never" (inf): a curve that flat is not a plan.
    """
    if not math.isfinite(train_sources) or train_sources > BEYOND_COUNTING:
        return math.inf
    folds = LOSO_FOLD_COUNT
    return float(max(folds, math.ceil(folds * math.ceil(train_sources - 1e-9) / (folds - 1))))


def plan_advice(data: CodecData, profile: TrainingProfile, seed: int,
                draws: int = DRAWS_PER_SIZE) -> list[AdviceTask]:
    """One task per outer fold, on the gate's own folds; empty when the codec has too few sources."""
    if data.n_sources < LOSO_FOLD_COUNT:
        return []
    held_out = fold_masks(data.sources, seed, LOSO_FOLD_COUNT)
    largest = min(len(set(data.sources[~rows].tolist())) for rows in held_out)
    sizes = curve_sizes(largest)
    return [part for k in range(LOSO_FOLD_COUNT) for part in split_fold(AdviceTask(
        codec=data.codec, fold_index=k, features=data.features, target=data.target, sources=data.sources,
        held_out=held_out[k], sizes=sizes, draws=draws, profile=profile,
        seed=stable_seed(seed, data.codec, "advice", k), observed=data.observed))] if sizes else []


def curve_points(sizes: Sequence[int], outcomes: Sequence[AdviceOutcome]) -> list[CurvePoint]:
    """Per size, the draws whose five fold PLCCs are all defined: their mean PLCC and spread."""
    stacked = np.stack([o.plcc for o in sorted(outcomes, key=lambda o: o.fold_index)])  # [folds, sizes, draws]
    points: list[CurvePoint] = []
    for i, size in enumerate(sizes):
        draws = [{"mean_plcc": float(stacked[:, i, d].mean()),
                  "spread": float(stacked[:, i, d].max() - stacked[:, i, d].min())}
                 for d in range(stacked.shape[2]) if np.all(np.isfinite(stacked[:, i, d]))]
        if draws:
            points.append({"n_sources": int(size),
                           "mean_plcc": float(np.mean([d["mean_plcc"] for d in draws])),
                           "spread": float(np.mean([d["spread"] for d in draws])),
                           "draws": draws})
    return points


def _as_corpus(estimate: Estimate) -> Estimate:
    """Training sources per fold -> corpus sources; None where never (or beyond counting)."""
    def converted(v: float | None) -> float | None:
        corpus = math.inf if v is None else corpus_sources_for(v)
        return corpus if math.isfinite(corpus) else None

    return Estimate(converted(estimate.estimate), converted(estimate.low), converted(estimate.high))


def assemble_advice(data: CodecData, tasks: Sequence[AdviceTask], outcomes: Sequence[AdviceOutcome],
                    seed: int) -> dict[str, object]:
    """The report's ``advice`` for one codec from its fold outcomes."""
    sizes = tasks[0].sizes if tasks else ()
    outcomes = merge_parts(list(outcomes))
    points = curve_points(sizes, outcomes) if outcomes else []
    errors = mark_outliers([e for o in outcomes for e in o.errors])
    advice: dict[str, object] = {
        "sources_now": data.n_sources,
        "draws_per_size": tasks[0].draws if tasks else 0,
        "curve": [{**p, "mean_plcc": round(p["mean_plcc"], 4), "spread": round(p["spread"], 4),
                   "draws": [{k: round(v, 4) for k, v in d.items()} for d in p["draws"]]} for p in points],
        "sources": [e.as_report() for e in errors],
        "training_seconds": round(sum(o.seconds for o in outcomes), 3),
    }
    if len(points) < MIN_POINTS:
        largest = max(sizes, default=0)
        why = (f"{len(points)} curve point(s) with defined PLCC, {MIN_POINTS} needed: the folds train on "
               f"{largest} source(s) each (a curve needs folds of at least {SMALLEST_SIZE + 2})")
        return {**advice, **_empty_estimates(), "verdict": "too-few-points", "reading": why}
    return {**advice, **_judged(points, data.n_sources, stable_seed(seed, data.codec, "resample"))}


def _empty_estimates() -> dict[str, object]:
    empty = Estimate(None, None, None)
    return {"mean_plcc_ceiling": empty.as_report(4), "spread_floor": empty.as_report(4),
            "sources_for_mean": empty.as_report(), "sources_for_spread": empty.as_report(),
            "sources_needed": empty.as_report()}


def _judged(points: list[CurvePoint], sources_now: int, seed: int) -> dict[str, object]:
    sizes = [p["n_sources"] for p in points]
    mean_fit = fit_with_range(sizes, [[d["mean_plcc"] for d in p["draws"]] for p in points], 1.0, seed)
    spread_fit = fit_with_range(sizes, [[-d["spread"] for d in p["draws"]] for p in points], 0.0, seed)
    ceiling = mean_fit.ceiling()
    floor_fit = spread_fit.ceiling()
    floor = Estimate(*(None if v is None else max(0.0, -v)
                       for v in (floor_fit.estimate, floor_fit.high, floor_fit.low)))
    for_mean = _as_corpus(mean_fit.crossing(SHIP_GATE_MEAN_PLCC))
    for_spread = _as_corpus(spread_fit.crossing(-SHIP_GATE_PLCC_SPREAD_MAX))
    needed = _needed(mean_fit, spread_fit)
    verdict, reading = _verdict(ceiling, floor, needed, sources_now)
    return {"mean_plcc_ceiling": ceiling.as_report(4), "spread_floor": floor.as_report(4),
            "sources_for_mean": for_mean.as_report(), "sources_for_spread": for_spread.as_report(),
            "sources_needed": needed.as_report(), "verdict": verdict, "reading": reading}


def _needed(mean_fit: CurveFit, spread_fit: CurveFit) -> Estimate:
    """Corpus sources where both bounds hold: per resample, the later of the two crossings."""
    point = max(mean_fit.point.crossing(SHIP_GATE_MEAN_PLCC), spread_fit.point.crossing(-SHIP_GATE_PLCC_SPREAD_MAX))
    both = [max(m.crossing(SHIP_GATE_MEAN_PLCC), s.crossing(-SHIP_GATE_PLCC_SPREAD_MAX))
            for m, s in zip(mean_fit.samples, spread_fit.samples, strict=True)]
    return _as_corpus(estimate_from(point, both))


def _verdict(ceiling: Estimate, floor: Estimate, needed: Estimate, sources_now: int) -> tuple[str, str]:
    assert ceiling.estimate is not None and floor.estimate is not None
    if ceiling.estimate < SHIP_GATE_MEAN_PLCC or floor.estimate > SHIP_GATE_PLCC_SPREAD_MAX:
        parts = []
        if ceiling.estimate < SHIP_GATE_MEAN_PLCC:
            parts.append(f"mean PLCC levels off at {ceiling.estimate:.4f} (draws {_span(ceiling, 4)}), below "
                         f"{SHIP_GATE_MEAN_PLCC}")
        if floor.estimate > SHIP_GATE_PLCC_SPREAD_MAX:
            parts.append(f"the fold spread levels off at {floor.estimate:.4f} (draws {_span(floor, 4)}), above "
                         f"{SHIP_GATE_PLCC_SPREAD_MAX}")
        return "not-reachable-with-these-inputs", ("; ".join(parts) + ": more sources like these will not pass the "
                                                   "gate; new model inputs, cleaner targets or a superseding ADR will")
    if needed.estimate is None:  # the ceiling grazes the bound: reached, if ever, past any real corpus
        return "not-reachable-with-these-inputs", (f"mean PLCC levels off at {ceiling.estimate:.4f}, so close to "
                                                   f"{SHIP_GATE_MEAN_PLCC} that the curve reaches it only beyond "
                                                   f"{BEYOND_COUNTING:,} sources: more sources like these will not "
                                                   "do; new model inputs, cleaner targets or a superseding ADR will")
    estimate = int(needed.estimate)
    reading = f"about {estimate} sources (now {sources_now}; draws {_span(needed, None)})"
    if estimate > FAR_BEYOND * sources_now:  # an extrapolation that far is a direction, not a plan
        return "not-reachable-with-these-inputs", (f"the curve reaches the gate only at {reading}, more than "
                                                   f"{FAR_BEYOND}x the sources measured: more sources like these "
                                                   "are not a plan; new model inputs or cleaner targets are")
    reading += " should pass the gate"
    if estimate <= sources_now:
        reading += ": the curve says the current sources are about enough, so this fail is within seed noise"
    return "more-sources-likely-enough", reading


def _span(estimate: Estimate, digits: int | None) -> str:
    """The draws' range in words; an open end means some resampled curves never reach the bound."""
    def shown(v: float) -> str:
        return f"{v:.{digits}f}" if digits is not None else str(int(v))

    if estimate.low is None:
        return "mostly never"
    if estimate.high is None:
        return f"{shown(estimate.low)} or more, some never"
    return f"{shown(estimate.low)}-{shown(estimate.high)}"
