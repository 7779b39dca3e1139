"""The one-sort grouping of rows into pick ladders gives exactly what a mask per ladder gives."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.core.features import QUALITY_INPUT
from trainer.learning.crf_pick import MIN_LADDER_POINTS, ladder_groups


def _mask_per_ladder(features: np.ndarray, ladder: np.ndarray) -> list[np.ndarray]:
    """The straightforward definition: each ladder id's rows, kept with enough distinct qualities."""
    return [rows for rows in (np.flatnonzero(ladder == k) for k in range(int(ladder.max()) + 1))
            if np.unique(features[rows, QUALITY_INPUT]).size >= MIN_LADDER_POINTS]


@pytest.mark.parametrize("seed", range(40))
def test_ladder_groups_equal_one_mask_per_ladder(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    ladder = rng.integers(0, int(rng.integers(1, 80)), n)  # unused ids, one-row ladders, repeated qualities
    features = np.zeros((n, 14), dtype=np.float32)
    features[:, QUALITY_INPUT] = rng.integers(18, 26, n) + rng.choice([0.0, 0.5], n)
    expected, got = _mask_per_ladder(features, ladder), ladder_groups(features, ladder)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_no_rows_no_ladders():
    assert ladder_groups(np.zeros((0, 14), dtype=np.float32), np.zeros(0, dtype=np.int64)) == []
