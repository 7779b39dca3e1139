"""The typed path (msgspec) may only take a line the exact path would accept with the same values.

Every line of a messy corpus (nulls, aliases, bools and strings where numbers belong, NaN tokens,
huge integers, numbered presets, rejections of every kind) is parsed twice: by ``parse_lines``
(typed path first, the exact path for what it hands back) and by the exact path alone. Records,
codes, rejection counts and examples must come out identical.
"""

import json
import random

import numpy as np
import pytest

from trainer.ingest import parsing, typed_rows
from trainer.ingest.columns import (
    CODEC_COLUMN,
    FIELD_KEYS,
    FRAME_COLUMN,
    GENERATED_COLUMN,
    LINE_COLUMN,
    N_FIELDS,
    PRESET_COLUMN,
    SOURCE_COLUMN,
    TARGET_COLUMN,
    Rejections,
)
from trainer.ingest.exact_rows import parse_exact
from trainer.ingest.parsing import parse_lines
from trainer.ingest.typed_rows import decode_typed

NUMBER_KEYS = sorted({key for keys in FIELD_KEYS for key in keys})
# One odd thing per perturbed row: (key, value), or None for the line-level ones below.
ODD_FIELDS = [
    ("encoder", ""), ("encoder", "nope"), ("encoder", None), ("encoder", 5), ("codec", "libx265"),
    ("vmaf_score", None), ("vmaf_score", "90"), ("vmaf_score", True), ("vmaf_score", 101.0), ("vmaf_score", -0.5),
    ("vmaf_score", 100), ("vmaf", 50.0), ("src", ""), ("src", None), ("src", 3), ("source", "b"),
    ("exit_status", 1), ("exit_status", None), ("exit_status", 0.0), ("exit_status", True), ("exit_status", False),
    ("exit_status", "0"), ("preset", "Medium "), ("preset", 4), ("preset", None), ("preset", 4.0), ("preset", True),
    ("preset", ""), ("frame_index", 7), ("frame_index", -1), ("frame_index", None), ("frame_index", 1.0),
    ("frame_index", True), ("synthetic", True), ("synthetic", 1), ("synthetic", [1]),
]
ODD_NUMBERS = [None, True, False, "7", [], {}, 0, -1, 2**70, 1e308, 3]
ODD_LINES = [
    b', "y_avg": NaN}',  # a NaN token only the stdlib reads
    b', "crf": 1e999}',
    b', "crf": 23, "crf": 24}',  # a key twice: the last counts, in both decoders
]


def _messy_row(rng: random.Random) -> bytes:
    """A plausible row (aliases included), half of them with one odd field or an odd line."""
    row: dict[str, object] = {
        "encoder": rng.choice(["libx264", "libsvtav1"]), "vmaf_score": rng.uniform(0, 100),
        rng.choice(["src", "source"]): rng.choice(["a", "b", "c"]),
    }
    for key in NUMBER_KEYS:
        if rng.random() < 0.3:
            row[key] = rng.uniform(16, 250) if rng.random() < 0.9 else rng.choice([20, None])  # inside every bound
    roll = rng.random()
    if roll < 0.25:
        key, value = rng.choice(ODD_FIELDS)
        row[key] = value
    elif roll < 0.4:
        row[rng.choice(NUMBER_KEYS)] = rng.choice(ODD_NUMBERS)
    line = json.dumps(row).encode()  # the stdlib writes integers of any size
    if 0.4 <= roll < 0.46:
        line = line[:-1] + rng.choice(ODD_LINES)
    elif 0.46 <= roll < 0.48:
        line = rng.choice([line[: len(line) // 2], b"  ", b"[1, 2]", b'{"src": "\xff"}'])
    elif 0.48 <= roll < 0.5:
        line = line + b"\r"  # a CRLF file
    return line


def _exact_only(lines: list[bytes], path: str) -> tuple[np.ndarray, Rejections, list[str], list[str]]:
    rejections = Rejections()
    sources: dict[str, int] = {}
    presets: dict[str, int] = {}
    table = parse_exact(lines, range(len(lines)), path, 1, rejections, sources, presets)
    return table, rejections, list(sources), list(presets)


@pytest.mark.parametrize(("seed", "block_lines"), [(0, 1 << 16), (1, 1 << 16), (2, 257), (3, 1000)])
def test_typed_and_exact_paths_agree_on_a_messy_corpus(seed, block_lines, monkeypatch):
    monkeypatch.setattr(parsing, "TYPED_BLOCK_LINES", block_lines)  # one block, or many that each hand lines back
    monkeypatch.setattr(typed_rows, "DECODE_STRETCH", 64)  # and clean stretches beside refused ones in each block
    rng = random.Random(seed)
    lines = [_messy_row(rng) for _ in range(3000)]
    chunk = parse_lines(lines, "messy.jsonl")
    table, rejections, sources, presets = _exact_only(lines, "messy.jsonl")
    typed, refused = decode_typed(lines, 1, {}, {})
    assert typed.n_rows > 1500 and len(refused) > 600  # both paths see plenty
    assert len(table) > typed.n_rows + 50  # and the exact path accepts rows the typed one hands back
    kept = np.isin(table[:, LINE_COLUMN], chunk.line_no)  # rows the range check dropped after parsing in both
    table = table[kept]
    assert np.array_equal(chunk.line_no, table[:, LINE_COLUMN].astype(np.int64))
    np.testing.assert_array_equal(chunk.raw, table[:, :N_FIELDS])  # NaN where NaN, bit for bit
    assert [chunk.source_names[c] for c in chunk.source_codes] == [sources[int(c)] for c in table[:, SOURCE_COLUMN]]
    assert [chunk.preset_names[c] for c in chunk.preset_codes] == [presets[int(c)] for c in table[:, PRESET_COLUMN]]
    assert np.array_equal(chunk.target, table[:, TARGET_COLUMN])
    assert np.array_equal(chunk.codec, table[:, CODEC_COLUMN].astype(np.int8))
    assert np.array_equal(chunk.generated, table[:, GENERATED_COLUMN] != 0)
    np.testing.assert_array_equal(chunk.frame_index, table[:, FRAME_COLUMN])
    exact_counts = dict(rejections.counts)
    out_of_range = chunk.rejections.counts.get("input-out-of-range", 0)
    assert {k: v for k, v in chunk.rejections.counts.items() if k != "input-out-of-range"} == exact_counts
    assert out_of_range == int((~kept).sum())
    for reason, shown in rejections.examples.items():
        assert chunk.rejections.examples[reason] == shown


def test_clean_lines_take_the_typed_path_and_every_other_line_is_handed_back():
    good = b'{"src": "a", "encoder": "libx264", "crf": 23, "vmaf_score": 90.0, "preset": 4}'
    lines = [good, b'{"src": "a", "encoder": "libx264", "vmaf_score": NaN}', b"", good,
             b'{"src": "a", "encoder": "libx264", "vmaf_score": 90.0, "width": true}', good]
    table, refused = decode_typed(lines, 10, {}, {})
    assert refused == [1, 2, 4]
    assert table.raw.shape == (3, N_FIELDS)
    assert table.line_no.tolist() == [10, 13, 15]  # line numbers from the block's first line
    assert table.preset_codes.tolist() == [0, 0, 0]
