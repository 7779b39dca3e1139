"""The fast path of parsing: lines decoded by msgspec into typed rows, then judged a column at a time.

msgspec checks every field's type while it decodes (no dict per row, no key lookups in Python), so
a clean row costs a fraction of the exact path (``trainer.ingest.exact_rows``), which explains
each rejection. The contract between the two: a line is accepted here only when the exact path
would accept it with the same values. Every other line, whether the exact path would reject it
or only decode it differently (NaN tokens, a bool where a number belongs), is handed back by
offset, so rejection reasons, details and their order stay the exact path's own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np

from trainer.core.codecs import CODEC_INDEX
from trainer.ingest.columns import CODEC_KEYS, FIELD_KEYS, SOURCE_KEYS, TARGET_KEYS
from trainer.ingest.records import Records

_NUMBER_KEYS = tuple(dict.fromkeys([key for keys in FIELD_KEYS for key in keys] + list(TARGET_KEYS)))
_TEXT_KEYS = CODEC_KEYS + SOURCE_KEYS
# A row as the exact path reads it; any other key is ignored, as orjson's dict ignores it there. A JSON
# number is accepted for a float field (an integer is converted exactly as float() would); a bool, a string
# or a non-finite number is a type error, which sends the line to the exact path. An absent number is NaN
# already (lists of floats become arrays fastest); an explicit null stays None, and numpy makes it NaN.
TypedRow = msgspec.defstruct(
    "TypedRow",
    [(key, float | None, math.nan) for key in _NUMBER_KEYS]
    + [(key, str | None, None) for key in _TEXT_KEYS]
    + [("exit_status", int | None, 0), ("preset", str | int | None, None), ("frame_index", int | None, None),
       ("synthetic", Any, None)],
    gc=False,  # scalars and strings only (``synthetic`` is compared with True, never kept): no cycles to track
)
_DECODE = msgspec.json.Decoder(TypedRow).decode
_REFUSED = (msgspec.DecodeError,)  # msgspec.ValidationError is a DecodeError


def _values(rows: Sequence[Any], key: str) -> list[Any]:
    return list(map(attrgetter(key), rows))


def _floats(rows: Sequence[Any], key: str) -> np.ndarray:
    """float64 per row, numpy reading null (None) as NaN; straight from the rows, a third faster than a list."""
    return np.fromiter(map(attrgetter(key), rows), dtype=np.float64, count=len(rows))


def _column(rows: Sequence[Any], keys: Sequence[str]) -> np.ndarray:
    """float64 column of the first key each row has a number for (NaN where none has)."""
    values = _floats(rows, keys[0])
    for alias in keys[1:]:
        absent = np.flatnonzero(np.isnan(values))
        if absent.size == 0:
            break
        values[absent] = np.array([getattr(rows[i], alias) for i in absent.tolist()], dtype=np.float64)
    return values


def _first(rows: Sequence[Any], keys: Sequence[str]) -> list[Any]:
    """Per row, the first of ``keys`` that is not null (None if none is)."""
    first, second = keys
    values = _values(rows, first)
    if None in values:
        values = [value if value is not None else getattr(row, second) for value, row in zip(values, rows, strict=True)]
    return values


# Lines per comprehension of the decoder: a refused line sends only its stretch through the slower loop, so
# one bad line in a block costs at most this many decodes twice, not the whole block's.
DECODE_STRETCH = 4096


def _decode(lines: Sequence[bytes]) -> tuple[list[Any], list[int], list[int]]:
    """(rows decoded, their offsets, offsets of the lines msgspec refused). A stretch of clean lines takes one
    comprehension; a refused line sends its stretch through a loop that sorts the lines out one by one."""
    decode = _DECODE
    rows: list[Any] = []
    offsets: list[int] = []
    refused: list[int] = []
    for start in range(0, len(lines), DECODE_STRETCH):
        stretch = lines[start:start + DECODE_STRETCH]
        try:
            rows.extend([decode(line) for line in stretch])
            offsets.extend(range(start, start + len(stretch)))
            continue
        except _REFUSED:
            pass
        for offset, line in enumerate(stretch, start=start):
            try:
                rows.append(decode(line))
            except _REFUSED:
                refused.append(offset)
                continue
            offsets.append(offset)
    return rows, offsets, refused


def _codes(names: list[str], ids: dict[str, int]) -> np.ndarray:
    """int32 code per name; a name not in ``ids`` yet gets the next free code, in order of first appearance."""
    for name in dict.fromkeys(names):
        ids.setdefault(name, len(ids))
    return np.fromiter(map(ids.__getitem__, names), dtype=np.int32, count=len(names))


def _preset_codes(rows: Sequence[Any], ids: dict[str, int]) -> np.ndarray:
    """A preset as the exact path names it: none is "", a number its decimal string."""
    values = _values(rows, "preset")
    name_of = {value: "" if value is None else str(value) for value in dict.fromkeys(values)}
    codes = dict(zip(name_of, _codes(list(name_of.values()), ids).tolist(), strict=True))
    return np.fromiter(map(codes.__getitem__, values), dtype=np.int32, count=len(values))


def _generated(rows: Sequence[Any]) -> np.ndarray:
    values = _values(rows, "synthetic")
    if values.count(None) == len(values):
        return np.zeros(len(values), dtype=bool)
    return np.fromiter((value is True for value in values), dtype=bool, count=len(values))


def decode_typed(lines: Sequence[bytes], first_line_no: int, source_ids: dict[str, int],
                 preset_ids: dict[str, int], raw_out: np.ndarray | None = None) -> tuple[Records, list[int]]:
    """The lines this path accepts, as columns, and the offsets of every other line, ascending, for the
    exact path. New sources and presets get the next free code in ``source_ids`` / ``preset_ids`` (shared
    with the exact path). ``raw_out``: where to write the raw columns (a row range of a column-major table
    with a row per line at least)."""
    rows, offsets, refused = _decode(lines)
    if not rows:
        return Records.empty(), refused
    codec_id = np.array([CODEC_INDEX.get(name, -1) for name in _first(rows, CODEC_KEYS)], dtype=np.int64)
    sources = _first(rows, SOURCE_KEYS)
    target = _column(rows, TARGET_KEYS)
    exit_status = _floats(rows, "exit_status")
    frame_index = _floats(rows, "frame_index")  # exact in float64 below 2**53, as the exact path stores it
    with np.errstate(invalid="ignore"):
        accepted = ((np.isnan(exit_status) | (exit_status == 0)) & (codec_id >= 0)
                    & (target >= 0.0) & (target <= 100.0)  # NaN (no target) fails both
                    & np.fromiter(map(bool, sources), dtype=bool, count=len(sources))  # None and "" are no source
                    & ~(frame_index < 0))
    if not accepted.all():
        keep = np.flatnonzero(accepted).tolist()
        refused = sorted(refused + [offsets[i] for i in np.flatnonzero(~accepted).tolist()])
        rows, sources = [rows[i] for i in keep], [sources[i] for i in keep]
        offsets = [offsets[i] for i in keep]
        codec_id, target, frame_index = codec_id[keep], target[keep], frame_index[keep]
        if not rows:
            return Records.empty(), refused
    # Column-major (trainer.ingest.layout), each column written once.
    raw = np.empty((len(rows), len(FIELD_KEYS)), order="F") if raw_out is None else raw_out[: len(rows)]
    for column, keys in enumerate(FIELD_KEYS):
        raw[:, column] = _column(rows, keys)
    records = Records(raw=raw, target=target, codec=codec_id.astype(np.int8), source_codes=_codes(sources, source_ids),
                      preset_codes=_preset_codes(rows, preset_ids), frame_index=frame_index,
                      generated=_generated(rows), line_no=np.asarray(offsets, dtype=np.int64) + first_line_no)
    return records, refused
