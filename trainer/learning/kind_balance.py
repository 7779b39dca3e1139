"""Rows of two kinds in one codec's table: quality ladders the harness picks on, and bitrate ladders.

Operators mix corpora: discovery reads several roots, and one codec may get a real CRF sweep (448
rows on 16 clips, every row on a quality ladder) beside the YT-UGC bitrate hulls (17,556 rows, no
quality input). Trained row by row, the network spends 97 % of its loss on the hulls and learns the
sweep's CRF curve as an afterthought: the sweep's held-out picks fell from 2.0 steps / 29 % misses
alone to 4.75 / 22 % (seed 0) in the mix, although the harness uses the model for nothing but picks
(issue #37). So where a model's training rows hold both kinds, each kind carries half of the loss;
the total weight stays the row count, and a table of one kind trains exactly as before.
"""

from __future__ import annotations

import numpy as np

# Each kind's share of a mixed model's loss.
PICK_LADDER_SHARE = 0.5


def kind_weights(train_masks: np.ndarray, on_pick_ladder: np.ndarray | None) -> np.ndarray | None:
    """``[F, n]`` loss weight per model and row, or None where no model trains on both kinds (nothing changes).

    ``train_masks``: ``[F, n]`` bool, each model's training rows; ``on_pick_ladder``: ``[n]`` bool, the rows on
    a quality ladder (learning.crf_pick.pick_ladder_rows). Rows outside a model's mask keep weight 1 (its mask
    zeroes them anyway).
    """
    if on_pick_ladder is None:
        return None
    masks = np.asarray(train_masks, dtype=bool)
    kind = np.asarray(on_pick_ladder, dtype=bool)
    picks = (masks & kind).sum(axis=1)
    others = (masks & ~kind).sum(axis=1)
    mixed = (picks > 0) & (others > 0)
    if not mixed.any():
        return None
    total = picks + others
    weights = np.ones(masks.shape, dtype=np.float32)
    for model in np.flatnonzero(mixed):
        weights[model, kind] = PICK_LADDER_SHARE * total[model] / picks[model]
        weights[model, ~kind] = (1.0 - PICK_LADDER_SHARE) * total[model] / others[model]
    return weights


def mixed_kinds(on_pick_ladder: np.ndarray) -> np.ndarray | None:
    """The row kinds when a table holds both (what tasks carry to their workers), else None."""
    kind = np.asarray(on_pick_ladder, dtype=bool)
    return kind if kind.any() and not kind.all() else None
