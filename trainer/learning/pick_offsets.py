"""Target offsets for the harness's pick: how much higher a target must be asked for to avoid a miss.

The harness binary-searches the largest quality whose predicted VMAF meets its target. A model
that is too optimistic on some content picks a quality whose measured VMAF falls short (a miss:
more than ``MISS_MARGIN`` below the target). Asking for ``target + offset`` instead moves the
pick down the ladder. For every held-out (ladder, target) this module finds the offset above
which every offset keeps the pick within the margin — a score whose quantile over unseen ladders
is the offset that holds a stated miss rate (split conformal on picks).

Everything works on the model's curve (its prediction at every integer quality of the codec's
range, probe inputs fixed) and the ladder's measured points, so it runs in the parent process on
what fold tasks already computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from trainer.core.codecs import QUALITY_RANGE
from trainer.core.features import QUALITY_INPUT
from trainer.learning.crf_pick import (
    MISS_MARGIN,
    TARGETS,
    Pick,
    PickSummary,
    corpus_ladders,
    harness_pick,
    measured_ladder,
    oracle_quality,
    summarise,
    swept_ladders,
)

# An offset no pick can be saved by (the lowest quality still misses): a finite stand-in, so the
# tables and the sidecar stay strict JSON; a quantile that reaches it says "no offset suffices".
UNFIXABLE_OFFSET = 100.0


@dataclass(frozen=True)
class PickLadder:
    """One held-out ladder as the harness meets it: the model's curve and what was measured."""

    source: str
    low: int  # the quality of curve[0]
    curve: np.ndarray  # float64: the model at every integer quality of the codec's range
    qualities: np.ndarray  # float64, ascending: measured qualities
    measured: np.ndarray  # float64: mean measured VMAF at each
    log_rate: np.ndarray | None  # float64: mean log bitrate at each; None when the ladder has no bitrate

    def __post_init__(self) -> None:
        # The harness compares a Python float prediction with its target: in float64. A float32 curve
        # would make NumPy compare in float32 and round the asked target onto the curve's values.
        object.__setattr__(self, "curve", np.asarray(self.curve, dtype=np.float64))

    def oracle(self, target: float) -> float | None:
        return oracle_quality(self.qualities, self.measured, target)

    def targets(self) -> list[tuple[float, float]]:
        """(target, oracle quality) for every target the measured range can judge."""
        return [(t, oracle) for t in TARGETS if (oracle := self.oracle(t)) is not None]

    def pick_at(self, target: float, offset: float, oracle: float) -> Pick:
        """The harness's pick when asked for ``target + offset``, judged against ``target``."""
        pick = harness_pick(self.curve, self.low, target + offset)
        at_pick = float(np.interp(pick, self.qualities, self.measured))
        overspend = float("nan")
        if self.log_rate is not None:
            overspend = (float(np.exp(np.interp(pick, self.qualities, self.log_rate)
                                      - np.interp(oracle, self.qualities, self.log_rate))) - 1.0) * 100.0
        return Pick(abs(pick - oracle), abs(at_pick - target), at_pick < target - MISS_MARGIN, overspend)

    def needed_offset(self, target: float) -> float:
        """The offset above which asking for ``target + offset`` never misses: the calibration score.

        The pick changes only where ``target + offset`` crosses a curve value; asking for exactly a
        curve value ``v`` picks the largest quality predicted at ``v`` or above. Walking the curve's
        values down from the top (above the top the harness falls back to the lowest quality), the
        first value whose pick misses bounds the score: any offset above ``v - target`` picks as a
        higher value does and meets the target, any offset at or below it misses. So a pick at
        ``target + q`` misses if and only if q <= the score, which makes its quantile a conformal
        offset. Clamped to +-UNFIXABLE_OFFSET: the fallback pick misses (no offset helps), or no
        pick on the curve misses (every offset does).
        """
        if self._misses(float(self.curve[0]) + 1.0, target):
            return UNFIXABLE_OFFSET
        for value in np.unique(self.curve)[::-1]:
            if self._misses(float(value), target):
                return float(np.clip(value - target, -UNFIXABLE_OFFSET, UNFIXABLE_OFFSET))
        return -UNFIXABLE_OFFSET

    def _misses(self, asked: float, target: float) -> bool:
        pick = harness_pick(self.curve, self.low, asked)
        return float(np.interp(pick, self.qualities, self.measured)) < target - MISS_MARGIN


def pick_ladders(features: np.ndarray, target: np.ndarray, kbps: np.ndarray, codec: str,
                 predict: Callable[[np.ndarray], np.ndarray], sources: np.ndarray,
                 ladder_ids: np.ndarray | None = None) -> tuple[PickLadder, ...]:
    """Every ladder of these rows with enough quality points, with the model's curve along it.

    Parameters
    ----------
    features, target, kbps, codec, predict : as in ``learning.crf_pick.crf_pick_metrics``
        The rows' inputs (n_rows, 14), measured VMAF and kbit/s (n_rows,), the codec and the model.
    sources : ndarray of shape (n_rows,)
        The source name of each row; a ladder never spans two sources.
    ladder_ids : ndarray of shape (n_rows,), optional
        The corpus's ladder id per row (int), keeping two presets of one source apart.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.shape[0] == 0:
        return ()
    names, code = np.unique(np.asarray(sources).astype(str), return_inverse=True)
    code = code.reshape(-1)
    low, _high = QUALITY_RANGE[codec]
    kbps = np.asarray(kbps, dtype=np.float64)
    ladders = []
    for rows, curve in swept_ladders(features, codec, predict, corpus_ladders(features, ladder_ids, code)):
        qualities, measured, inverse = measured_ladder(features[rows, QUALITY_INPUT].astype(np.float64),
                                                       np.asarray(target, dtype=np.float64)[rows])
        rates = kbps[rows]
        log_rate = (np.bincount(inverse, weights=np.log(rates)) / np.bincount(inverse)
                    if np.all(rates > 0) else None)
        ladders.append(PickLadder(str(names[code[rows[0]]]), low, curve,
                                  qualities, measured, log_rate))
    return tuple(ladders)


@dataclass(frozen=True)
class PickCase:
    """One (ladder, target) a pick can be judged on: the calibration unit for target offsets."""

    ladder: PickLadder
    target: float
    oracle: float
    needed: float  # ``ladder.needed_offset(target)``


def pick_cases(ladders: Sequence[PickLadder]) -> list[PickCase]:
    return [PickCase(ladder, target, oracle, ladder.needed_offset(target))
            for ladder in ladders for target, oracle in ladder.targets()]


def picks_at(cases: Sequence[PickCase], offset: float) -> list[Pick]:
    return [case.ladder.pick_at(case.target, offset, case.oracle) for case in cases]


def summary_at(cases: Sequence[PickCase], offset: float) -> PickSummary | None:
    """crf_pick's summary of these cases when the harness asks for target + ``offset``."""
    return summarise(picks_at(cases, offset))
