"""Ladders and sites as integer ids, and every ladder's encode values at the probe quality, all at once.

A ladder is the rows of one source at one resolution, frame rate and preset; a site the same
without the preset (the ladders one probe can stand for). Both are found by sorting one int64
per row (integer codes and resolution columns as digits of one number), never strings, nor
five columns one after another. A ladder's values at the probe
quality (``trainer.ingest.probes`` says which rows take them) are computed for every ladder in
one pass per probe column: the same arithmetic, in the same order, as taking each ladder alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.core.features import RAW_INDEX

LADDER_COLUMNS = tuple(RAW_INDEX[c] for c in ("width", "height", "fps"))
QUALITY = RAW_INDEX["crf"]
ABSENT_KEY = -1.0  # an absent width, height or fps keys as -1 (every real value is positive)


# Keys of up to this many combinations are one int64 each (a mixed-radix number); wider ones fall back to a
# sort over every column.
MAX_KEY_SPAN = 2**62
WHOLE_SPAN = 2**20  # a column of whole numbers within this range is its own digit (pixels, CRF), unsorted


def digits(column: np.ndarray) -> tuple[np.ndarray, int]:
    """Each value as a small non-negative int64 that keeps the column's order, and a bound on them.

    Integer codes and whole-number floats (a width, a CRF) only shift by their minimum; other floats
    (23.976 fps) take their rank among the distinct values. ``column`` holds no NaN."""
    if column.size == 0:
        return np.zeros(0, dtype=np.int64), 1
    if column.dtype.kind not in "iu":
        with np.errstate(invalid="ignore"):
            whole = column.astype(np.int64)  # a value out of int64 range comes out unequal, so it is ranked
        if not np.array_equal(whole, column):
            values, rank = np.unique(column, return_inverse=True)
            return rank.reshape(-1), int(values.size)
        column = whole
    low, high = int(column.min()), int(column.max())
    if high - low >= WHOLE_SPAN:
        values, rank = np.unique(column, return_inverse=True)
        return rank.reshape(-1), int(values.size)
    return column.astype(np.int64) - low, high - low + 1


def mixed_radix(columns: list[np.ndarray]) -> np.ndarray | None:
    """One int64 per row ordering rows as their columns do (first most significant), or None when the
    combinations do not fit in one."""
    key = np.zeros(columns[0].shape[0], dtype=np.int64)
    span = 1
    for column in columns:
        digit, base = digits(column)
        span *= base
        if span > MAX_KEY_SPAN:
            return None
        key *= base
        key += digit
    return key


def group_ids(columns: list[np.ndarray]) -> np.ndarray:
    """One id per distinct row of ``columns`` (first column most significant), numbered in ascending key
    order: what ``np.unique(np.column_stack(columns), axis=0, return_inverse=True)`` numbers, without NaNs."""
    n = columns[0].shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    key = mixed_radix(columns)
    if key is not None:
        return np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64, copy=False)
    order = np.lexsort(columns[::-1])
    changed = np.zeros(n, dtype=bool)
    for column in columns:
        ordered = column[order]
        changed[1:] |= ordered[1:] != ordered[:-1]
    ids = np.empty(n, dtype=np.int64)
    ids[order] = np.cumsum(changed)
    return ids


@dataclass(frozen=True)
class LadderKeys:
    """Each row's ladder, and each ladder's site and preset code."""

    row_ladder: np.ndarray  # int64 [n rows]: ladder id, in (source, preset, width, height, fps) order
    site: np.ndarray  # int64 [n ladders]: the site (source, width, height, fps) of each ladder
    preset: np.ndarray  # int64 [n ladders]: each ladder's preset code

    @property
    def n_ladders(self) -> int:
        return int(self.site.shape[0])


def ladder_keys(raw: np.ndarray, source_codes: np.ndarray, preset_codes: np.ndarray) -> LadderKeys:
    """Group rows into ladders and ladders into sites; codes index sorted name tables (``trainer.ingest.codes``)."""
    resolution = [np.where(np.isnan(column), ABSENT_KEY, column) for column in (raw[:, c] for c in LADDER_COLUMNS)]
    source_codes, preset_codes = np.asarray(source_codes, np.int64), np.asarray(preset_codes, np.int64)
    row_ladder = group_ids([source_codes, preset_codes, *resolution])
    n_ladders = int(row_ladder.max()) + 1 if row_ladder.size else 0
    one_row = np.zeros(n_ladders, dtype=np.int64)
    one_row[row_ladder] = np.arange(row_ladder.size)  # a row of each ladder: all of them share its key
    site = group_ids([source_codes[one_row], *(r[one_row] for r in resolution)])
    return LadderKeys(row_ladder, site, preset_codes[one_row])


def values_at(raw: np.ndarray, row_ladder: np.ndarray, n_ladders: int, own: int, exact: np.ndarray,
              at: float) -> tuple[np.ndarray, np.ndarray]:
    """Per ladder, column ``own`` at quality ``at``: log-linear in quality between the nearest qualities
    (linear in log beyond the ends, from the two nearest), duplicate qualities' logs averaged first.

    Only rows with a quality and a positive value count. A ladder with fewer than two qualities has no
    value, unless ``exact[ladder]`` and its one quality is ``at`` itself (a real probe).
    Returns (float64 value per ladder, bool: the ladder has one).

    Parameters
    ----------
    raw : ndarray of shape (n_rows, n_fields), float64
        Input columns in ``trainer.ingest.columns`` order; NaN where a row has no value.
    row_ladder : ndarray of shape (n_rows,), int
        Each row's ladder id, 0 to ``n_ladders - 1``.
    n_ladders : int
        How many ladders there are (the length of both results).
    own : int
        The column of ``raw`` to read (a size or bitrate, so positive).
    exact : ndarray of shape (n_ladders,), bool
        Ladders whose value may come from their one quality, when it is ``at``.
    at : float
        The quality (CRF, CQ or QP) to read the value at.
    """
    values = np.full(n_ladders, np.nan)
    found = np.zeros(n_ladders, dtype=bool)
    quality = raw[:, QUALITY]
    with np.errstate(invalid="ignore"):
        rows = np.flatnonzero(~np.isnan(quality) & (raw[:, own] > 0))
    if rows.size == 0:
        return values, found
    ladder, q = row_ladder[rows], quality[rows]
    point = group_ids([ladder, q])  # one point per (ladder, quality), numbered in (ladder, quality) order
    # Rows stay in file order, so each point's logs are summed in the order one ladder alone sums them.
    logs = np.bincount(point, weights=np.log(raw[rows, own])) / np.bincount(point)
    starts = np.empty(logs.size, dtype=np.int64)
    starts[point] = np.arange(point.size)  # a row of each point: all of them share its ladder and quality
    point_ladder, point_q = ladder[starts], q[starts]
    n_points = np.bincount(point_ladder, minlength=n_ladders)
    first = np.cumsum(n_points) - n_points
    at_or_below = np.bincount(point_ladder, weights=point_q <= at, minlength=n_ladders).astype(np.int64)
    hit = np.bincount(point_ladder, weights=point_q == at, minlength=n_ladders) > 0
    usable = np.flatnonzero((n_points >= 2) | (exact & hit))
    count, base = n_points[usable], first[usable]
    lowest, highest = point_q[base], point_q[base + count - 1]
    # The segment to interpolate along (its lower point): the first below the range, the last above it.
    lower = np.where(at <= lowest, base, np.where(at >= highest, base + count - 2, base + at_or_below[usable] - 1))
    single = count == 1
    lower[single] = base[single]
    upper = np.where(single, lower, lower + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (logs[upper] - logs[lower]) / (point_q[upper] - point_q[lower])
    log_value = np.where(single, logs[lower], logs[lower] + slope * (at - point_q[lower]))
    values[usable] = np.exp(log_value)
    found[usable] = True
    return values, found
