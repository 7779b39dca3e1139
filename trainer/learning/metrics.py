"""Agreement metrics between predicted and measured VMAF; NaN where undefined, never an exception."""

from __future__ import annotations

import numpy as np


def plcc(pred: np.ndarray, target: np.ndarray) -> float:
    """Pearson correlation; NaN for fewer than 2 points or a constant side."""
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(target, dtype=np.float64).ravel()
    if p.size < 2:
        return float("nan")
    pc = p - p.mean()
    tc = t - t.mean()
    denom = np.sqrt((pc * pc).sum() * (tc * tc).sum())
    if not np.isfinite(denom) or denom <= 1e-12:
        return float("nan")
    return float(np.clip((pc * tc).sum() / denom, -1.0, 1.0))


def srocc(pred: np.ndarray, target: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN where a value is not finite."""
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(target, dtype=np.float64).ravel()
    if p.size < 2 or not (np.isfinite(p).all() and np.isfinite(t).all()):
        return float("nan")
    return plcc(average_ranks(p), average_ranks(t))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks (scipy's ``rankdata`` 'average').

    Written with numpy because importing scipy.stats for this one function took about 1 s of every
    run's start-up (the fork server imported it before any worker could start); tests compare the
    two on ties and random data.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts_group = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    group = np.cumsum(starts_group) - 1
    first = np.flatnonzero(starts_group)
    last = np.concatenate([first[1:], [values.size]]) - 1
    ranks = np.empty(values.size)
    ranks[order] = (first + last)[group] / 2.0 + 1.0
    return ranks


def rmse(pred: np.ndarray, target: np.ndarray) -> float:
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(target, dtype=np.float64).ravel()
    if p.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((p - t) ** 2)))
