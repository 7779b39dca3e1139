"""Names as integer codes: one int32 per row into a table of names, the table sorted once per corpus.

Sources and presets key ladders and sites. Kept as a million Python strings they cost memory to
hold and pickle, and every grouping has to sort strings again; as codes into a *sorted* table a
group key is numbers only, and code order is name order, so ids numbered by code come out in the
order a string sort would give them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def encode(values: Sequence[str] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int32 code per value, sorted str array of the distinct values)."""
    names, codes = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return codes.reshape(-1).astype(np.int32), names


def merge(parts: Sequence[tuple[np.ndarray, Sequence[str]]]) -> tuple[np.ndarray, np.ndarray]:
    """Codes into several tables (one per chunk, any order) as codes into one sorted table of them all."""
    tables = [np.asarray(names, dtype=str) for _codes, names in parts]
    names = np.unique(np.concatenate(tables)) if tables else np.zeros(0, dtype=str)
    remapped = [np.searchsorted(names, table).astype(np.int32)[np.asarray(codes, dtype=np.int64)]
                if table.size else np.zeros(0, np.int32) for (codes, _names), table in zip(parts, tables, strict=True)]
    return (np.concatenate(remapped) if remapped else np.zeros(0, np.int32)), names


def decode(codes: np.ndarray, names: np.ndarray) -> np.ndarray:
    """The names of ``codes`` as a str array."""
    return names[codes]
