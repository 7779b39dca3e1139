"""A fold's held-out ladders as the console draws them: measured VMAF beside the model's curve.

Computed in the worker, where the fold's model and its held-out rows are, and carried back with
the fold result (never into report.json): per ladder, the measured points, the model's prediction
at every integer quality of the codec's range with the ladder's probe inputs held fixed (the
curve the harness searches), and its picks against the oracle. At most MAX_LADDERS_PER_FOLD
ladders per fold, the worst-picked first, so a fold result stays a few kilobytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trainer.core.codecs import QUALITY_RANGE
from trainer.core.features import FEATURE_NAMES, QUALITY_INPUT
from trainer.learning.crf_pick import (
    TARGETS,
    corpus_ladders,
    harness_pick,
    measured_ladder,
    oracle_quality,
    swept_ladders,
)

MAX_LADDERS_PER_FOLD = 8
_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


@dataclass(frozen=True)
class LadderPick:
    target: float
    pick: int  # the harness's pick on the model's curve
    oracle: float  # the largest quality whose measured VMAF meets the target


@dataclass(frozen=True)
class LadderCurve:
    """One held-out ladder: what was measured, what the fold's model predicts at its probe inputs."""

    label: str  # its source(s), resolution and frame rate
    probe_kbps: float
    quality: tuple[float, ...]  # measured qualities, ascending
    vmaf: tuple[float, ...]  # mean measured VMAF at each
    low: int  # the quality of predicted[0]: the codec's range starts here
    predicted: tuple[float, ...]  # the model at every integer quality low, low + 1, ... of the range
    picks: tuple[LadderPick, ...]  # one per target inside the measured range

    @property
    def predicted_quality(self) -> range:
        return range(self.low, self.low + len(self.predicted))

    def mean_pick_error(self) -> float:
        """Mean |pick - oracle| in quality steps (0 when no target lies in the measured range)."""
        return float(np.mean([abs(p.pick - p.oracle) for p in self.picks])) if self.picks else 0.0


def ladder_label(sources: np.ndarray, row: np.ndarray) -> str:
    names = sorted({str(s) for s in sources})
    who = names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "") if names else "ladder"
    return f"{who} {row[_COL['width']]:.0f}x{row[_COL['height']]:.0f}@{row[_COL['fps']]:g}"


def held_out_ladders(features: np.ndarray, target: np.ndarray, sources: np.ndarray | None, codec: str,
                     predict: Callable[[np.ndarray], np.ndarray],
                     limit: int = MAX_LADDERS_PER_FOLD,
                     ladder_ids: np.ndarray | None = None) -> tuple[LadderCurve, ...]:
    """The ladders of these (held-out) rows with enough quality points, worst-picked first, at most ``limit``.

    ``ladder_ids`` (the corpus's ladders) keeps two presets of one source apart, as crf_pick does.

    Parameters
    ----------
    features : ndarray of shape (n_rows, 14)
        The held-out rows' model inputs in contract order (float32).
    target : ndarray of shape (n_rows,)
        Their measured VMAF (0-100).
    sources : ndarray of shape (n_rows,) or None
        Source name per row, for each ladder's label; None labels ladders without one.
    codec : str
        The codec, for its quality range (the curve is drawn over all of it).
    predict : callable
        The fold model: features of shape (m, 14) to predicted VMAF of shape (m,).
    limit : int
        At most this many ladders are kept (the worst picked).
    ladder_ids : ndarray of shape (n_rows,), optional
        The corpus's ladder id per row (int).
    """
    features = np.asarray(features, dtype=np.float32)
    if features.shape[0] == 0:
        return ()
    low, _high = QUALITY_RANGE[codec]
    names = np.asarray(sources) if sources is not None else np.array([], dtype=str)
    ladders = []
    for rows, curve in swept_ladders(features, codec, predict, corpus_ladders(features, ladder_ids)):
        qualities, measured, _ = measured_ladder(features[rows, QUALITY_INPUT].astype(np.float64),
                                                 np.asarray(target, dtype=np.float64)[rows])
        picks = tuple(LadderPick(t, harness_pick(curve, low, t), oracle)
                      for t in TARGETS if (oracle := oracle_quality(qualities, measured, t)) is not None)
        ladders.append(LadderCurve(
            label=ladder_label(names[rows] if names.size else names, features[rows[0]]),
            probe_kbps=float(features[rows[0], _COL["probe_bitrate_kbps"]]),
            quality=tuple(float(q) for q in qualities),
            vmaf=tuple(float(v) for v in measured),
            low=low,
            predicted=tuple(float(v) for v in curve),
            picks=picks,
        ))
    ladders.sort(key=lambda c: (-c.mean_pick_error(), c.label, c.probe_kbps))
    return tuple(ladders[:limit])
