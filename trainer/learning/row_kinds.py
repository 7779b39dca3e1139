"""Rows of two kinds in one codec's table: quality ladders the harness picks on, and bitrate ladders.

Operators mix corpora: discovery reads several roots, and one codec may get a real CRF sweep (448
rows on 16 clips, every row on a quality ladder) beside the YT-UGC bitrate hulls (17,556 rows with no
quality input). The harness asks a model one thing: the VMAF at a CRF it names, for a clip it has
probed. A row without a quality cannot teach that answer, and trained beside the sweep the hulls cost
it its picks: the sweep's held-out picks went from 2.0 steps / 29 % misses alone to 4.75 / 22 % in the
mix (seed 0), and to 4.58 / 29 % with each kind given half of the loss (issue #37). So in a table that
holds both kinds, the models (fold, nested choice and final) train on the rows that state a quality only;
the bitrate-ladder rows are still held out and judged in their folds, so the report says what the
model the harness would load does on them. A table of one kind trains exactly as before.

The kind is what the row says, not how many qualities its ladder happens to hold: a corpus whose ladders
carry two CRFs each still teaches the answer at those CRFs. And the cut is made only where the rows
that state a quality could stand as a corpus of their own (learning.planning.fold_plan).
"""

from __future__ import annotations

import numpy as np


def mixed_kinds(quality_stated: np.ndarray | None) -> np.ndarray | None:
    """``[n]`` bool, the rows that state a quality, when a table holds both kinds (what tasks carry to workers);
    None for a table of one kind (or one that never said, ``CodecData.quality_stated`` None)."""
    if quality_stated is None:
        return None
    kind = np.asarray(quality_stated, dtype=bool)
    return kind if kind.any() and not kind.all() else None
