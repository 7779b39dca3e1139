"""Judge a model the way the harness uses it: by the quality it picks for a target VMAF.

For every held-out ladder (rows that differ only in quality, so probe inputs are fixed) with at
least three quality points, and every target in TARGETS inside the ladder's measured VMAF range:
the harness's pick (binary search for the largest integer quality in the codec's range whose
prediction is >= target) against the oracle (the largest quality whose measured VMAF,
interpolated linearly along the ladder, is >= target). A miss is a pick whose measured VMAF is
more than one point below the target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from trainer.core.codecs import QUALITY_RANGE
from trainer.core.features import QUALITY_INPUT

TARGETS = (80.0, 85.0, 90.0, 93.0, 95.0)
MIN_LADDER_POINTS = 3
MISS_MARGIN = 1.0


class PickSummary(TypedDict):
    """The report's ``crf_pick``: picks over some ladders. A pooled metric is None when no fold had it."""

    n: int
    mean_abs_quality_error: float | None
    mean_abs_vmaf_error: float | None
    miss_rate: float | None
    mean_bitrate_overspend_pct: float | None  # None also when no ladder has a bitrate


@dataclass(frozen=True)
class Pick:
    quality_error: float
    vmaf_error: float
    miss: bool
    overspend_pct: float  # NaN when the ladder has no bitrate


def harness_pick(curve: np.ndarray, low: int, target: float) -> int:
    """The harness's binary search over a prediction curve indexed by quality - low."""
    lo, hi, best = 0, curve.size - 1, 0
    while lo <= hi:
        mid = (lo + hi) // 2
        if curve[mid] >= target:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return low + best


def measured_ladder(quality: np.ndarray, vmaf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ladder's distinct qualities (ascending), the mean measured VMAF at each, and each row's index into them."""
    qualities, inverse = np.unique(quality, return_inverse=True)
    return qualities, np.bincount(inverse, weights=vmaf) / np.bincount(inverse), inverse


def oracle_quality(qualities: np.ndarray, measured: np.ndarray, target: float) -> float | None:
    """The largest integer quality whose measured VMAF, interpolated along the ladder, is >= target.

    None when the target lies outside the ladder's measured range (nothing to judge a pick against).
    """
    if not measured.min() <= target <= measured.max():
        return None
    grid = np.arange(int(np.ceil(qualities[0])), int(np.floor(qualities[-1])) + 1, dtype=np.float64)
    meeting = grid[np.interp(grid, qualities, measured) >= target]
    return float(meeting.max()) if meeting.size else None


def ladder_picks(quality: np.ndarray, vmaf: np.ndarray, kbps: np.ndarray, curve: np.ndarray, low: int) -> list[Pick]:
    """Picks for one ladder; ``curve`` is the model's prediction at every integer quality of the range."""
    qualities, measured, inverse = measured_ladder(quality, vmaf)
    if qualities.size < MIN_LADDER_POINTS:
        return []
    has_rate = np.all(kbps > 0)
    log_rate = np.bincount(inverse, weights=np.log(np.where(kbps > 0, kbps, 1.0))) / np.bincount(inverse)
    picks = []
    for target in TARGETS:
        oracle = oracle_quality(qualities, measured, target)
        if oracle is None:
            continue
        pick = harness_pick(curve, low, target)
        at_pick = float(np.interp(pick, qualities, measured))
        overspend = (float(np.exp(np.interp(pick, qualities, log_rate) - np.interp(oracle, qualities, log_rate)))
                     - 1.0) * 100.0 if has_rate else float("nan")
        picks.append(Pick(abs(pick - oracle), abs(at_pick - target), at_pick < target - MISS_MARGIN, overspend))
    return picks


def ladder_index(features: np.ndarray) -> np.ndarray:
    """Per row, its ladder: rows whose inputs other than quality (the probe inputs) are identical."""
    others = np.delete(np.asarray(features, dtype=np.float32), QUALITY_INPUT, axis=1)
    return np.unique(others, axis=0, return_inverse=True)[1].reshape(-1)


def quality_sweep(ladders: np.ndarray, codec: str) -> np.ndarray:
    """Each ladder row repeated at every integer quality of the codec's range: [L * Q, 14], Q per ladder."""
    low, high = QUALITY_RANGE[codec]
    qualities = np.arange(low, high + 1, dtype=np.float32)
    sweep = np.repeat(np.asarray(ladders, dtype=np.float32), qualities.size, axis=0)
    sweep[:, QUALITY_INPUT] = np.tile(qualities, ladders.shape[0])
    return sweep


# Ladders per prediction call of a sweep: a ladder sweeps 30-64 qualities of 14 inputs, so a call holds at most
# about 4,096 x 64 rows (15 MB of inputs) however many ladders a corpus has (issue #36).
SWEEP_CHUNK_LADDERS = 4_096


def sweep_chunks(ladders: np.ndarray, codec: str,
                 predict: Callable[[np.ndarray], np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    """(first ladder, ``[chunk, Q]`` float64 curves) a chunk of ladders at a time: the prediction of each
    ladder row at every integer quality of the codec's range, so memory follows the chunk, not the corpus."""
    ladders = np.asarray(ladders, dtype=np.float32)
    for start in range(0, ladders.shape[0], SWEEP_CHUNK_LADDERS):
        chunk = ladders[start:start + SWEEP_CHUNK_LADDERS]
        yield start, np.asarray(predict(quality_sweep(chunk, codec)), dtype=np.float64).reshape(chunk.shape[0], -1)


def sweep_curves(ladders: np.ndarray, codec: str, predict: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``[L, Q]`` float64: every ladder's curve (``sweep_chunks``, gathered)."""
    low, high = QUALITY_RANGE[codec]
    curves = np.empty((np.shape(ladders)[0], high - low + 1), dtype=np.float64)
    for start, chunk in sweep_chunks(ladders, codec, predict):
        curves[start:start + chunk.shape[0]] = chunk
    return curves


def swept_ladders(features: np.ndarray, codec: str, predict: Callable[[np.ndarray], np.ndarray],
                  ladder: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows, curve) for every ladder with enough quality points: the model's prediction at every
    integer quality of the codec's range with the ladder's probe inputs fixed (the curve the harness
    searches)."""
    groups = ladder_groups(features, ladder)
    if not groups:
        return []
    curves = sweep_curves(features[[rows[0] for rows in groups]], codec, predict)
    return list(zip(groups, curves, strict=True))


def ladder_groups(features: np.ndarray, ladder: np.ndarray) -> list[np.ndarray]:
    """Row indices (ascending) of every ladder with enough distinct qualities, in ladder-id order.

    One sort for all ladders: a generated corpus where every row is its own ladder has thousands,
    and a mask per ladder made this quadratic (4 s of a 14-codec M run's main process).
    """
    ids = np.asarray(ladder, dtype=np.int64).reshape(-1)
    if ids.size == 0:
        return []
    n_ladders = int(ids.max()) + 1
    points = _points_per_ladder(ids, features)
    order = np.argsort(ids, kind="stable")
    by_ladder = np.split(order, np.cumsum(np.bincount(ids, minlength=n_ladders))[:-1])
    return [rows for rows, count in zip(by_ladder, points, strict=True) if count >= MIN_LADDER_POINTS]


def _picks_by_ladder(features: np.ndarray, target: np.ndarray, kbps: np.ndarray, codec: str,
                     predict: Callable[[np.ndarray], np.ndarray], ladder: np.ndarray) -> list[tuple[int, list[Pick]]]:
    """(first row, picks) for every ladder with enough quality points."""
    low, _high = QUALITY_RANGE[codec]
    return [(int(rows[0]), ladder_picks(features[rows, QUALITY_INPUT].astype(np.float64),
                                        target[rows].astype(np.float64), np.asarray(kbps, dtype=np.float64)[rows],
                                        curve, low))
            for rows, curve in swept_ladders(features, codec, predict, ladder)]


def crf_pick_metrics(features: np.ndarray, target: np.ndarray, kbps: np.ndarray, codec: str,
                     predict: Callable[[np.ndarray], np.ndarray],
                     ladders: np.ndarray | None = None) -> PickSummary | None:
    """Summary over every ladder of these rows; None when no ladder has enough quality points.

    ``ladders`` (the corpus's ladder per row) keeps apart curves the inputs cannot tell apart:
    two presets of one source share their probe inputs but are measured separately.

    Parameters
    ----------
    features : ndarray of shape (n_rows, 14)
        Model inputs in contract order (float32); column ``QUALITY_INPUT`` is the quality a ladder steps through.
    target : ndarray of shape (n_rows,)
        Measured VMAF (0-100).
    kbps : ndarray of shape (n_rows,)
        Each row's encode bitrate in kbit/s; NaN where the corpus has none (then no bitrate is reported).
    codec : str
        The codec, for its quality range (the harness searches every integer quality in it).
    predict : callable
        The model: features of shape (m, 14) to predicted VMAF of shape (m,).
    ladders : ndarray of shape (n_rows,), optional
        The corpus's ladder id per row (int); None: ladders from the inputs alone.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.shape[0] == 0:
        return None
    by_ladder = _picks_by_ladder(features, target, kbps, codec, predict, corpus_ladders(features, ladders))
    return summarise([p for _first, picks in by_ladder for p in picks])


def corpus_ladders(features: np.ndarray, ladders: np.ndarray | None, *more: np.ndarray) -> np.ndarray:
    """Ladder per row from the inputs, kept apart further by the corpus's own ladder ids and ``more`` groupings."""
    keys = [ladder_index(features)] + ([np.asarray(ladders)] if ladders is not None else []) + list(more)
    if len(keys) == 1:
        return keys[0]
    return np.unique(np.column_stack(keys), axis=0, return_inverse=True)[1].reshape(-1)


def has_pick_ladders(features: np.ndarray, ladders: np.ndarray | None = None) -> bool:
    """Whether any ladder of these rows has enough quality points for the harness's pick to be judged."""
    return bool(_pick_ladder_points(features, ladders)[1].max(initial=0) >= MIN_LADDER_POINTS)


def pick_ladder_rows(features: np.ndarray, ladders: np.ndarray | None = None) -> np.ndarray:
    """``[n]`` bool: the rows on a ladder the harness's pick can be judged on (enough distinct qualities)."""
    features = np.asarray(features, dtype=np.float32)
    if features.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    ladder, points = _pick_ladder_points(features, ladders)
    return points[ladder] >= MIN_LADDER_POINTS


def every_group_has_pick_ladders(features: np.ndarray, groups: np.ndarray, ladders: np.ndarray | None = None) -> bool:
    """Whether every group (source) among these rows has a ladder the harness's pick can be judged on."""
    groups = np.asarray(groups).astype(str)
    if groups.size == 0:
        return True
    code = np.unique(groups, return_inverse=True)[1].reshape(-1)
    ladder, points = _pick_ladder_points(features, ladders, code)
    judged = np.flatnonzero(points >= MIN_LADDER_POINTS)
    return bool(np.isin(code, code[np.isin(ladder, judged)]).all())


def _pick_ladder_points(features: np.ndarray, ladders: np.ndarray | None,
                        *more: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ladder, and each ladder's number of distinct qualities."""
    features = np.asarray(features, dtype=np.float32)
    if features.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ladder = corpus_ladders(features, ladders, *more)
    return ladder, _points_per_ladder(ladder, features)


def _points_per_ladder(ladder: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Each ladder id's number of distinct qualities (0 for an id no row has); ``ladder`` not empty."""
    pairs = np.unique(np.column_stack([ladder, np.asarray(features)[:, QUALITY_INPUT]]), axis=0)[:, 0]
    return np.bincount(pairs.astype(np.int64), minlength=int(ladder.max()) + 1)


def crf_pick_by_group(features: np.ndarray, target: np.ndarray, kbps: np.ndarray, codec: str,
                      predict: Callable[[np.ndarray], np.ndarray], groups: np.ndarray,
                      ladders: np.ndarray | None = None) -> dict[str, PickSummary]:
    """A summary per group (source) of its own ladders' picks, so any set of sources can be pooled
    later (the shipped model is compared with a challenger on the sources it never saw).

    Parameters
    ----------
    features, target, kbps, codec, predict : as in ``crf_pick_metrics``
        The rows' inputs (n_rows, 14), measured VMAF and kbit/s (n_rows,), the codec and the model.
    groups : ndarray of shape (n_rows,)
        The group (source name) of each row; a ladder never spans two groups.
    ladders : ndarray of shape (n_rows,), optional
        The corpus's ladder id per row (int); None: ladders from the inputs and groups alone.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.shape[0] == 0:
        return {}
    names, code = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    code = code.reshape(-1)
    ladder = corpus_ladders(features, ladders, code)
    picks: dict[str, list[Pick]] = {}
    for first, ladder_picks_ in _picks_by_ladder(features, target, kbps, codec, predict, ladder):
        picks.setdefault(str(names[code[first]]), []).extend(ladder_picks_)
    return {name: summary for name, group in sorted(picks.items()) if (summary := summarise(group))}


def summarise(picks: list[Pick]) -> PickSummary | None:
    if not picks:
        return None
    overspend = [p.overspend_pct for p in picks if np.isfinite(p.overspend_pct)]
    return {
        "n": len(picks),
        "mean_abs_quality_error": float(np.mean([p.quality_error for p in picks])),
        "mean_abs_vmaf_error": float(np.mean([p.vmaf_error for p in picks])),
        "miss_rate": float(np.mean([p.miss for p in picks])),
        "mean_bitrate_overspend_pct": float(np.mean(overspend)) if overspend else None,
    }


def pool(per_fold: list[PickSummary | None]) -> PickSummary | None:
    """Folds' summaries into one, each weighted by its number of picks."""
    folds = [f for f in per_fold if f]
    if not folds:
        return None
    return {
        "n": sum(int(f["n"]) for f in folds),
        "mean_abs_quality_error": _weighted([(f.get("mean_abs_quality_error"), f["n"]) for f in folds]),
        "mean_abs_vmaf_error": _weighted([(f.get("mean_abs_vmaf_error"), f["n"]) for f in folds]),
        "miss_rate": _weighted([(f.get("miss_rate"), f["n"]) for f in folds]),
        "mean_bitrate_overspend_pct": _weighted([(f.get("mean_bitrate_overspend_pct"), f["n"]) for f in folds]),
    }


def _weighted(values: list[tuple[float | None, int]]) -> float | None:
    """The mean of the values present, each weighted by its fold's number of picks."""
    present = [(float(v), int(w)) for v, w in values if v is not None]
    return sum(v * w for v, w in present) / sum(w for _, w in present) if present else None
