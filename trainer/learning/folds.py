"""Leave-one-source-out fold assignment: sources, never rows, are dealt into folds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainer.core.gate import LOSO_FOLD_COUNT


def assign_source_folds(
    sources: Sequence[str], seed: int, n_folds: int = LOSO_FOLD_COUNT
) -> dict[str, int]:
    """Sort distinct sources, shuffle with ``seed``, deal round-robin into ``n_folds`` buckets."""
    distinct = sorted(set(sources))
    order = np.random.default_rng(seed).permutation(len(distinct))
    return {distinct[j]: k % n_folds for k, j in enumerate(order)}


def fold_masks(row_sources: np.ndarray, seed: int, n_folds: int = LOSO_FOLD_COUNT) -> np.ndarray:
    """Boolean ``[n_folds, n_rows]``: True where the row is *held out* in that fold.

    Because whole sources go to one bucket, a held-out source never appears in its training fold.
    """
    distinct, row_to_distinct = np.unique(np.asarray(row_sources), return_inverse=True)
    mapping = assign_source_folds(list(distinct), seed, n_folds)
    bucket = np.array([mapping[s] for s in distinct], dtype=np.int64)
    row_fold = bucket[row_to_distinct]
    return row_fold[None, :] == np.arange(n_folds)[:, None]
