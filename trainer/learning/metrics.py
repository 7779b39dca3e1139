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
    """Spearman rank correlation (average ranks for ties)."""
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(target, dtype=np.float64).ravel()
    if p.size < 2:
        return float("nan")
    from scipy.stats import rankdata  # scipy.stats costs ~0.5 s to import; only workers need it

    return plcc(rankdata(p), rankdata(t))


def rmse(pred: np.ndarray, target: np.ndarray) -> float:
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(target, dtype=np.float64).ravel()
    if p.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((p - t) ** 2)))
