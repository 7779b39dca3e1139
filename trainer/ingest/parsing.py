"""Parsing: JSONL bytes -> accepted rows as columns, every rejection counted with file:line.

A file is read once for all codecs; big files are split at line boundaries and parsed by several
processes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.core.features import FEATURE_NAMES, RAW_COLUMNS, describe_bound, non_finite_derived, out_of_range
from trainer.ingest import codes
from trainer.ingest.columns import N_FIELDS, ParsedChunk, Rejections
from trainer.ingest.exact_rows import parse_exact
from trainer.ingest.layout import column_major, joined, take_rows
from trainer.ingest.records import Records
from trainer.ingest.typed_rows import decode_typed

# Lines per block of the typed path: its rows are Python objects until they become columns, so a block
# bounds that memory (about 20 MB), whatever the file's size.
TYPED_BLOCK_LINES = 1 << 16


def parse_lines(lines: Sequence[bytes], path: str, first_line_no: int = 1) -> ParsedChunk:
    """Parse complete JSONL lines into accepted columns and counted rejections.

    The typed path (``trainer.ingest.typed_rows``) takes the clean rows a block at a time; the lines it
    hands back go through the exact path (``trainer.ingest.exact_rows``), which names every rejection.
    Records come out in line order either way.
    """
    rejections = Rejections()
    source_ids: dict[str, int] = {}  # name -> code
    preset_ids: dict[str, int] = {}
    # Every block writes its raw columns straight into one table for the whole chunk: no block is held until a
    # join copies them all (which cost a worker 0.18 s and 50 MB over half of the 1M-row bench file).
    raw = np.empty((len(lines), N_FIELDS), order="F")
    filled = 0
    blocks: list[Records] = []
    for start in range(0, len(lines), TYPED_BLOCK_LINES):
        block = lines[start:start + TYPED_BLOCK_LINES]
        typed, refused = decode_typed(block, first_line_no + start, source_ids, preset_ids,
                                      raw_out=raw[filled:filled + len(block)])
        records = typed
        if refused:
            exact = parse_exact(block, refused, path, first_line_no + start, rejections, source_ids, preset_ids)
            if exact.size:
                records = Records.joined([typed, Records.from_table(exact)]).in_line_order()
                raw[filled:filled + records.n_rows] = records.raw
        blocks.append(records)
        filled += records.n_rows
    # Rows the parse did not accept leave the table's tail unused: then it is compacted, once.
    records = Records.joined(blocks, raw=raw if filled == len(lines) else column_major(raw[:filled]))
    chunk = ParsedChunk(
        path=path,
        raw=records.raw,
        target=records.target,
        codec=records.codec,
        source_codes=records.source_codes,
        source_names=list(source_ids),
        rejections=rejections,
        generated=records.generated,
        per_frame=~np.isnan(records.frame_index),
        preset_codes=records.preset_codes,
        preset_names=list(preset_ids),
        frame_index=records.frame_index,
        line_no=records.line_no,
    )
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
        raw=take_rows(chunk.raw, keep),
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

