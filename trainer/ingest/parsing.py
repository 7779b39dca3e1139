"""Parsing: JSONL bytes -> accepted rows as columns, every rejection counted with file:line.

A file is read once for all codecs; big files are split at line boundaries and parsed by several
processes.
"""

from __future__ import annotations

import hashlib
import json
import math
from array import array
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from trainer.core.codecs import CODEC_INDEX
from trainer.core.features import FEATURE_NAMES, RAW_COLUMNS, describe_bound, non_finite_derived, out_of_range
from trainer.ingest import codes
from trainer.ingest.columns import FIELD_KEYS, ParsedChunk, Rejections

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


def _as_float(value: float | int) -> float:
    """A JSON integer too large for a float (the stdlib parses 1000 digits exactly) becomes inf,
    so the range check names it instead of the conversion raising."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


# Each accepted row is parsed into one float64 record: the raw fields, then its bookkeeping. Codes, line
# numbers and frame indices are exact in float64 (all far below 2**53).
N_FIELDS = len(FIELD_KEYS)
TARGET_COLUMN, CODEC_COLUMN, SOURCE_COLUMN, PRESET_COLUMN, FRAME_COLUMN, GENERATED_COLUMN, LINE_COLUMN = range(
    N_FIELDS, N_FIELDS + 7)
ROW_WIDTH = N_FIELDS + 7


def parse_lines(lines: Sequence[bytes], path: str, first_line_no: int = 1) -> ParsedChunk:
    """Parse complete JSONL lines into accepted columns and counted rejections.

    The hot loop is tuned for millions of rows: one orjson call, a handful of dict lookups and a
    type-set check per row; rows orjson refuses take a slower path that explains why.
    """
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    rejections = Rejections()
    values = array("d")
    source_ids: dict[str, int] = {}  # name -> code, in order of first appearance
    preset_ids: dict[str, int] = {}
    absent = _ABSENT
    absent_defaults = _ABSENT_DEFAULTS
    isfinite = math.isfinite
    nan = math.nan
    primary_keys = _PRIMARY_KEYS
    alias_fallbacks = _ALIAS_FALLBACKS
    plain_types = _PLAIN_VALUE_TYPES

    for offset, line in enumerate(lines):
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
        codec = get("encoder")
        if codec is None:
            codec = get("codec")
        if codec is None or codec == "":
            rejections.add("missing-codec", f"{path}:{first_line_no + offset}")
            continue
        if type(codec) is not str:
            rejections.add("wrong-value-type", f"{path}:{first_line_no + offset}", "codec is not a string")
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
        source = get("src")
        if source is None:
            source = get("source")
        if source is None or source == "":
            rejections.add("missing-source", f"{path}:{first_line_no + offset}")
            continue
        if type(source) is not str:
            rejections.add("wrong-value-type", f"{path}:{first_line_no + offset}", "src is not a string")
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

    table = np.frombuffer(values, dtype=np.float64).reshape(-1, ROW_WIDTH)
    frame_index_column = table[:, FRAME_COLUMN].copy()
    chunk = ParsedChunk(
        path=path,
        raw=table[:, :N_FIELDS].copy(),
        target=table[:, TARGET_COLUMN].copy(),
        codec=table[:, CODEC_COLUMN].astype(np.int8),
        source_codes=table[:, SOURCE_COLUMN].astype(np.int32),
        source_names=list(source_ids),
        rejections=rejections,
        generated=table[:, GENERATED_COLUMN] != 0.0,
        per_frame=~np.isnan(frame_index_column),
        preset_codes=table[:, PRESET_COLUMN].astype(np.int32),
        preset_names=list(preset_ids),
        frame_index=frame_index_column,
        line_no=table[:, LINE_COLUMN].astype(np.int64),
    )
    del table, values  # copied into the chunk
    return _reject_out_of_range(chunk)


# Rows per block of the range checks: their temporaries (several per column) stay in cache and small, instead
# of a dozen arrays the size of the chunk at the end of a parse.
CHECK_BLOCK_ROWS = 1 << 15
_NONE = np.zeros(0, dtype=np.int64)


def _reject_out_of_range(chunk: ParsedChunk) -> ParsedChunk:
    """Drop rows whose inputs cannot be physical, counting each under ``input-out-of-range``.

    Two checks: every raw column within its bounds, and every model input derived from the row
    (frame sizes from bitrate / fps, shot length from fps x duration) finite as the float32 the
    model sees. Checked with numpy a block of rows at a time (each row's verdict is its own); the rows
    that stay are untouched, so a poisoned row leaves every other row, and every fold built from them,
    bit-identical.
    """
    blocks = range(0, chunk.n_rows, CHECK_BLOCK_ROWS)
    bad_column = np.concatenate([out_of_range(chunk.raw[i:i + CHECK_BLOCK_ROWS]) for i in blocks] or [_NONE])
    derived_bad = np.concatenate([non_finite_derived(chunk.raw[i:i + CHECK_BLOCK_ROWS]) for i in blocks] or [_NONE])
    bad_rows = np.flatnonzero((bad_column >= 0) | (derived_bad >= 0))
    if bad_rows.size == 0:
        return chunk
    for row in bad_rows.tolist():
        column = int(bad_column[row])
        if column >= 0:
            detail = f"{RAW_COLUMNS[column]}={float(chunk.raw[row, column])!r} outside {describe_bound(column)}"
        else:
            detail = f"derived {FEATURE_NAMES[int(derived_bad[row])]} is not finite in float32"
        chunk.rejections.add("input-out-of-range", f"{chunk.path}:{int(chunk.line_no[row])}", detail)
    keep = (bad_column < 0) & (derived_bad < 0)
    return ParsedChunk(
        path=chunk.path,
        raw=chunk.raw[keep],
        target=chunk.target[keep],
        codec=chunk.codec[keep],
        source_codes=chunk.source_codes[keep],
        source_names=chunk.source_names,
        rejections=chunk.rejections,
        generated=chunk.generated[keep],
        per_frame=chunk.per_frame[keep],
        preset_codes=chunk.preset_codes[keep],
        preset_names=chunk.preset_names,
        frame_index=chunk.frame_index[keep],
        line_no=chunk.line_no[keep],
    )


@dataclass(frozen=True)
class InputFile:
    path: str
    bytes: int
    sha256: str


PARALLEL_PARSE_MIN_BYTES = 32 * 2**20


UTF8_BOM = b"\xef\xbb\xbf"


def strip_bom(data: bytes) -> bytes:
    """Editors on Windows start UTF-8 files with a byte-order mark; it is not part of the first row."""
    return data[len(UTF8_BOM) :] if data.startswith(UTF8_BOM) else data


def _split_lines(data: bytes) -> list[bytes]:
    """Lines of a whole file or range; a final line counts even without its newline."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def _parse_byte_range(path: str, start: int, end: int, first_line_no: int) -> ParsedChunk:
    """Worker side of a parallel parse: read one newline-aligned byte range and parse it."""
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    lines = _split_lines(strip_bom(data) if start == 0 else data)
    del data  # the lines are copies: the range's bytes need not stay through the parse
    return parse_lines(lines, path, first_line_no)


def joined(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The arrays end to end; a single one as it is. A 1M-row table is about 150 MB of float64: with
    one file (or one worker) concatenating a list of one array only copied it, twice per load."""
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def merge_chunks(chunks: Sequence[ParsedChunk]) -> ParsedChunk:
    """Consecutive chunks of one file as one, rows and rejection examples in file order."""
    rejections = Rejections()
    for chunk in chunks:
        rejections.merge(chunk.rejections)
    source_codes, source_names = codes.merge([(c.source_codes, c.source_names) for c in chunks])
    preset_codes, preset_names = codes.merge([(c.preset_codes, c.preset_names) for c in chunks])
    return ParsedChunk(
        path=chunks[0].path,
        raw=joined([c.raw for c in chunks]),
        target=joined([c.target for c in chunks]),
        codec=joined([c.codec for c in chunks]),
        source_codes=source_codes,
        source_names=source_names.tolist(),
        rejections=rejections,
        generated=joined([c.generated for c in chunks]),
        per_frame=joined([c.per_frame for c in chunks]),
        preset_codes=preset_codes,
        preset_names=preset_names.tolist(),
        frame_index=joined([c.frame_index for c in chunks]),
        line_no=joined([c.line_no for c in chunks]),
    )


def _byte_ranges(data: bytes, workers: int) -> list[tuple[int, int, int]]:
    """(start, end, first line number) of one newline-aligned byte range per worker."""
    cuts = [0]
    for k in range(1, workers):
        newline = data.find(b"\n", max(cuts[-1], len(data) * k // workers))
        if newline < 0:
            break
        cuts.append(newline + 1)
    cuts.append(len(data))
    ranges = [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]
    return [(a, b, data.count(b"\n", 0, a) + 1) for a, b in ranges]


def _parse_in_parallel(path: Path, ranges: list[tuple[int, int, int]]) -> ParsedChunk:
    """One byte range per worker; workers re-read their range from disk."""
    import multiprocessing

    # spawn: a parse worker needs numpy and orjson only, not the torch-preloaded fork server.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(ranges), mp_context=context) as pool:
        futures = [pool.submit(_parse_byte_range, str(path), a, b, n) for a, b, n in ranges]
        return merge_chunks([f.result() for f in futures])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_corpus_file(path: Path, workers: int = 1) -> tuple[ParsedChunk, InputFile]:
    """Read and parse one whole file; the last line counts even without its newline.

    Files of 32 MiB and more are parsed by ``workers`` processes in parallel. The sha256 for the
    report's provenance is computed on a thread meanwhile (hashlib releases the GIL).
    """
    data = path.read_bytes()
    size = len(data)
    with ThreadPoolExecutor(max_workers=1) as hasher:
        digest = hasher.submit(_sha256, data)
        # Past this point only the hasher holds the file's bytes: they go as soon as it is done, not after
        # the parse (a 214 MiB file held through the merge of the workers' rows set the peak memory).
        if workers > 1 and size >= PARALLEL_PARSE_MIN_BYTES:
            ranges = _byte_ranges(data, workers)
            del data
            chunk = _parse_in_parallel(path, ranges)
        else:
            lines = _split_lines(strip_bom(data))
            del data
            chunk = parse_lines(lines, str(path))
        return chunk, InputFile(str(path), size, digest.result())

