"""Raw columns are stored column by column (Fortran order), and rows are selected keeping that layout.

Everything after parsing reads the raw table a column at a time: the range checks, probe
derivation (ladder keys, values at the probe quality), the projection to model inputs. On a
row-major table each of those reads strides across every row's 19 values; column-major they are
contiguous, and a codec's table (one column gathered after another) costs a fraction of a boolean
row mask. The model's inputs leave ``project_features`` row-major, as training always saw them.
"""

from __future__ import annotations

import numpy as np


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
