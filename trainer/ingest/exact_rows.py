"""The exact path of parsing: one line at a time, every rejection named with its reason and detail.

The typed path (``trainer.ingest.typed_rows``) takes the clean rows of a corpus; this path judges
every line it hands back: rows it would reject, and rows only the stdlib can decode (NaN tokens).
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import orjson

from trainer.core.codecs import CODEC_INDEX
from trainer.ingest.columns import (
    FIELD_KEYS,
    ROW_WIDTH,
    Rejections,
)

_NUMBER = (int, float)


def _classify_undecodable(line: bytes) -> tuple[str, str, dict | None]:
    """orjson refused the line: say why, and recover rows that only carry NaN/Infinity."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return "not-utf8", f"byte {exc.start}", None
    try:
        # The stdlib accepts NaN/Infinity tokens, so such a row is judged on its target instead.
        return "", "", json.loads(text)
    except json.JSONDecodeError as exc:
        return "malformed-json", exc.msg, None


_PRIMARY_KEYS = tuple(keys[0] for keys in FIELD_KEYS)
_ALIAS_FALLBACKS = tuple((i, keys[1:]) for i, keys in enumerate(FIELD_KEYS) if len(keys) > 1)
_PLAIN_VALUE_TYPES = frozenset({type(None), int, float})
# What a lookup returns for a key the row lacks. A NaN of its own: it is already the stored "absent"
# value, so most rows need no None -> NaN pass, and identity (`is _ABSENT`) tells it apart from a NaN
# the row itself carried.
_ABSENT = float("nan")
_ABSENT_DEFAULTS = (_ABSENT,) * len(_PRIMARY_KEYS)


def _bad_field(values: list[object], strict_finite: bool) -> str | None:
    """Name the first field that is not a number (or, for stdlib-parsed rows, is NaN)."""
    for keys, value in zip(FIELD_KEYS, values, strict=True):
        if value is None or value is _ABSENT:
            continue
        if type(value) not in _NUMBER:
            return f"{keys[0]} is {type(value).__name__}"
        if strict_finite and value != value:  # an explicit NaN is no value; inf is left to the range check
            return f"{keys[0]} is nan"
    return None


def _required_text(get: Callable[[str], object], key: str, alias: str, what: str, label: str) -> str | tuple[str, str]:
    """A required text field, under ``key`` or else ``alias``: the string, or (reason, detail) refusing the row."""
    value = get(key)
    if value is None:
        value = get(alias)
    if value is None or value == "":
        return f"missing-{what}", ""
    if type(value) is not str:
        return "wrong-value-type", f"{label} is not a string"
    return value


def _as_float(value: float | int) -> float:
    """A JSON integer too large for a float (the stdlib parses 1000 digits exactly) becomes inf,
    so the range check names it instead of the conversion raising."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def parse_exact(lines: Sequence[bytes], offsets: Iterable[int], path: str, first_line_no: int, rejections: Rejections,
                source_ids: dict[str, int], preset_ids: dict[str, int]) -> np.ndarray:
    """The lines at ``offsets``: accepted ones as float64 records (``trainer.ingest.columns`` layout), each
    rejection counted in ``rejections`` with its file:line, in line order. New sources and presets get the
    next free code in ``source_ids`` / ``preset_ids``.

    Tuned for many rows, as a corpus the typed path refuses whole (NaN tokens in every line) comes here:
    one orjson call, a handful of dict lookups and a type-set check per row; rows orjson refuses take a
    slower path that explains why.

    Parameters
    ----------
    lines : sequence of bytes
        A block of the file's lines, without their line ends.
    offsets : iterable of int
        Which of ``lines`` to parse, ascending.
    path : str
        The file, as rejections name it.
    first_line_no : int
        The line number of ``lines[0]`` in the file (1-based), for ``file:line``.
    rejections : Rejections
        The ledger the refused lines are counted in (changed in place).
    source_ids, preset_ids : dict of str to int
        Codes given so far to source and preset names (extended in place).
    """
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    values = array("d")
    absent = _ABSENT
    absent_defaults = _ABSENT_DEFAULTS
    isfinite = math.isfinite
    nan = math.nan
    primary_keys = _PRIMARY_KEYS
    alias_fallbacks = _ALIAS_FALLBACKS
    plain_types = _PLAIN_VALUE_TYPES

    for offset in offsets:
        line = lines[offset]
        from_stdlib = False
        try:
            row = loads(line)
        except decode_error:
            if not line.strip():
                continue  # blank lines separate nothing and carry no row
            reason, detail, row = _classify_undecodable(line)
            if row is None:
                rejections.add(reason, f"{path}:{first_line_no + offset}", detail)
                continue
            from_stdlib = True
        if type(row) is not dict:
            rejections.add("not-an-object", f"{path}:{first_line_no + offset}", type(row).__name__)
            continue
        get = row.get
        exit_status = get("exit_status")
        if exit_status is not None and exit_status != 0:
            where = f"{path}:{first_line_no + offset}"
            if type(exit_status) is not int:
                rejections.add("wrong-value-type", where, f"exit_status is {type(exit_status).__name__}")
            else:
                rejections.add("nonzero-exit-status", where, f"exit_status={exit_status}")
            continue
        codec = _required_text(get, "encoder", "codec", "codec", "codec")
        if isinstance(codec, tuple):
            rejections.add(codec[0], f"{path}:{first_line_no + offset}", codec[1])
            continue
        codec_id = CODEC_INDEX.get(codec)
        if codec_id is None:
            rejections.add_unknown_codec(codec, f"{path}:{first_line_no + offset}")
            continue
        target = get("vmaf_score")
        if target is None:
            target = get("vmaf")
        if target is None:
            rejections.add("missing-target", f"{path}:{first_line_no + offset}")
            continue
        if type(target) not in _NUMBER:
            rejections.add(
                "wrong-value-type", f"{path}:{first_line_no + offset}", f"target is {type(target).__name__}"
            )
            continue
        if type(target) is float and not isfinite(target):
            rejections.add("non-finite-target", f"{path}:{first_line_no + offset}", repr(target))
            continue
        if not 0.0 <= target <= 100.0:
            rejections.add("target-out-of-range", f"{path}:{first_line_no + offset}", f"{target!r} not in [0, 100]")
            continue
        source = _required_text(get, "src", "source", "source", "src")
        if isinstance(source, tuple):
            rejections.add(source[0], f"{path}:{first_line_no + offset}", source[1])
            continue
        preset = get("preset")
        if preset is None:
            preset = ""
        elif type(preset) is not str:
            if type(preset) is not int:  # svt-av1 and aom name presets by number; anything else is a mistake
                rejections.add("wrong-value-type", f"{path}:{first_line_no + offset}",
                               f"preset is {type(preset).__name__}")
                continue
            preset = str(preset)
        fields = list(map(get, primary_keys, absent_defaults))
        for column, aliases in alias_fallbacks:
            if fields[column] is absent or fields[column] is None:
                for alias in aliases:
                    value = get(alias)
                    if value is not None:
                        fields[column] = value
                        break
        if from_stdlib or not plain_types.issuperset(map(type, fields)):
            bad = _bad_field(fields, strict_finite=from_stdlib)
            if bad is not None:
                rejections.add("wrong-value-type", f"{path}:{first_line_no + offset}", bad)
                continue
            fields = [v if v is None or v is absent else _as_float(v) for v in fields]
        frame_index = get("frame_index")
        if frame_index is not None and (type(frame_index) is not int or frame_index < 0):
            rejections.add("wrong-value-type", f"{path}:{first_line_no + offset}",
                           f"frame_index is {frame_index!r}, not a whole number >= 0")
            continue
        source_code = source_ids.get(source)
        if source_code is None:
            source_code = source_ids[source] = len(source_ids)
        preset_code = preset_ids.get(preset)
        if preset_code is None:
            preset_code = preset_ids[preset] = len(preset_ids)
        # One extend per row (the fields, then the row's bookkeeping) instead of one append per column.
        values.extend([absent if v is None else v for v in fields] if None in fields else fields)
        values.extend((target, codec_id, source_code, preset_code,
                       nan if frame_index is None else frame_index, get("synthetic") is True, first_line_no + offset))

    return np.frombuffer(values, dtype=np.float64).reshape(-1, ROW_WIDTH).copy()
