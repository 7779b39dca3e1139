"""Raw columns are stored column by column (Fortran order), and rows are selected keeping that layout.

Everything after parsing reads the raw table a column at a time: the range checks, probe
derivation (ladder keys, values at the probe quality), the projection to model inputs. On a
row-major table each of those reads strides across every row's 19 values; column-major they are
contiguous, and a codec's table (one column gathered after another) costs a fraction of a boolean
row mask. The model's inputs leave ``project_features`` row-major, as training always saw them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def joined(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The arrays end to end; a single one as it is. A 1M-row table is about 150 MB of float64: with
    one file (or one worker) concatenating a list of one array only copied it, twice per load."""
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def column_major(raw: np.ndarray) -> np.ndarray:
    """``raw`` in Fortran order (itself when it already is)."""
    return np.asfortranarray(raw, dtype=np.float64)


def take_rows(raw: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The rows at ``rows`` (int indices, or a bool mask), column-major whatever ``raw``'s layout."""
    if rows.dtype == bool:
        rows = np.flatnonzero(rows)
    if not raw.flags.f_contiguous:  # gathering a row-major table column by column strides over all of it
        return column_major(raw[rows])
    out = np.empty((rows.size, raw.shape[1]), dtype=np.float64, order="F")
    for column in range(raw.shape[1]):
        np.take(raw[:, column], rows, out=out[:, column])
    return out
