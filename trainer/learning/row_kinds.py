"""Rows of two kinds in one codec's table: quality ladders the harness picks on, and bitrate ladders.

Operators mix corpora: discovery reads several roots, and one codec may get a real CRF sweep (448
rows on 16 clips, every row on a quality ladder) beside the YT-UGC bitrate hulls (17,556 rows with no
quality input). The harness asks a model one thing: the VMAF at a CRF it names, for a clip it has
probed. A row without a quality cannot teach that answer, and trained beside the sweep the hulls cost
it its picks: the sweep's held-out picks went from 2.0 steps / 29 % misses alone to 4.75 / 22 % in the
mix (seed 0), and to 4.58 / 29 % with each kind given half of the loss (issue #37). So in a table that
holds both kinds, the models (fold, nested choice and final) train on the quality-ladder rows only;
the bitrate-ladder rows are still held out and judged in their folds, so the report says what the
model the harness would load does on them. A table of one kind trains exactly as before.
"""

from __future__ import annotations

import numpy as np

from trainer.learning.crf_pick import MIN_LADDER_POINTS


def mixed_kinds(on_pick_ladder: np.ndarray) -> np.ndarray | None:
    """The rows on a quality ladder when a table holds both kinds (what tasks carry to workers), else None."""
    kind = np.asarray(on_pick_ladder, dtype=bool)
    return kind if kind.any() and not kind.all() else None


def quality_ladder_rows(ladders: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """``[n]`` bool: rows whose corpus ladder (``CodecData.ladders``) holds enough distinct qualities to pick on.

    One-dimensional sorts only, so a million-row table costs a fraction of a second; the feature-wise
    ladders of learning.crf_pick (a row-wise unique over every input) took 18 s there.
    """
    ladder = np.asarray(ladders, dtype=np.int64).reshape(-1)
    if ladder.size == 0:
        return np.zeros(0, dtype=bool)
    quality_code = np.unique(np.asarray(quality), return_inverse=True)[1].reshape(-1).astype(np.int64)
    pairs = np.unique(ladder * (int(quality_code.max()) + 1) + quality_code)
    points = np.bincount(pairs // (int(quality_code.max()) + 1), minlength=int(ladder.max()) + 1)
    return points[ladder] >= MIN_LADDER_POINTS
