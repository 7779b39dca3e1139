import os

import numpy as np
import pytest

from trainer.core.features import FEATURE_NAMES, RAW_COLUMNS
from trainer.ingest.columns import REJECTION_REASONS
from trainer.ingest.corpus import load_corpus
from trainer.ingest.discovery import discover_files
from trainer.ingest.parsing import parse_lines

GOOD = b'{"src": "a", "encoder": "libx264", "crf": 23, "vmaf_score": 90.0, "exit_status": 0}'

BAD_LINES = {
    "malformed-json": b'{"src": "a", "encoder": "libx264", "vmaf_score": 9',
    "not-utf8": b'{"src": "\xff\xfe", "encoder": "libx264", "vmaf_score": 90.0}',
    "not-an-object": b"[1, 2, 3]",
    "missing-target": b'{"src": "a", "encoder": "libx264", "crf": 23}',
    "non-finite-target": b'{"src": "a", "encoder": "libx264", "vmaf_score": NaN}',
    "target-out-of-range": b'{"src": "a", "encoder": "libx264", "vmaf_score": 100.5}',
    "missing-codec": b'{"src": "a", "vmaf_score": 90.0}',
    "unknown-codec": b'{"src": "a", "encoder": "../../etc/passwd", "vmaf_score": 90.0}',
    "missing-source": b'{"encoder": "libx264", "vmaf_score": 90.0}',
    "nonzero-exit-status": b'{"src": "a", "encoder": "libx264", "vmaf_score": 90.0, "exit_status": 137}',
    "wrong-value-type": b'{"src": "a", "encoder": "libx264", "crf": "23", "vmaf_score": 90.0}',
    "input-out-of-range": b'{"src": "a", "encoder": "libx264", "width": 1e20, "vmaf_score": 90.0}',
}


# Found once frames of a whole corpus are grouped, not in one line: tested with the per-frame rows below.
CORPUS_LEVEL_REASONS = {"duplicate-frame"}


def test_every_rejection_reason_is_counted_with_file_and_line():
    assert set(BAD_LINES) == set(REJECTION_REASONS) - CORPUS_LEVEL_REASONS
    lines = [GOOD, *BAD_LINES.values(), b"", GOOD]
    chunk = parse_lines(lines, "corpus.jsonl")
    assert chunk.n_rows == 2
    assert dict(chunk.rejections.counts) == {reason: 1 for reason in BAD_LINES}
    for lineno, reason in enumerate(BAD_LINES, start=2):
        assert chunk.rejections.examples[reason][0].startswith(f"corpus.jsonl:{lineno}: {reason}")
    assert dict(chunk.rejections.unknown_codecs) == {"../../etc/passwd": 1}


@pytest.mark.parametrize(
    "line",
    [
        b'{"src": "a", "encoder": "libx264", "vmaf_score": 90.0, "width": true}',
        b'{"src": "a", "encoder": "libx264", "vmaf_score": "90"}',
        b'{"src": "a", "encoder": "libx264", "vmaf_score": 90.0, "exit_status": "0"}',
        b'{"src": 17, "encoder": "libx264", "vmaf_score": 90.0}',
        b'{"src": "a", "encoder": "libx264", "vmaf_score": 90.0, "fps": NaN}',
    ],
)
def test_wrong_types_are_rejected_not_coerced(line):
    chunk = parse_lines([line], "f")
    assert chunk.n_rows == 0
    assert chunk.rejections.counts["wrong-value-type"] == 1


def test_a_rows_own_nan_feature_is_rejected_but_absent_and_null_fields_are_absent():
    lines = [
        b'{"src": "a", "encoder": "libx264", "vmaf_score": 90.0, "crf": NaN}',
        b'{"src": "a", "encoder": "libx264", "vmaf_score": 90.0, "crf": null, "cq": 31, "y_avg": null}',
        b'{"src": "a", "encoder": "libx264", "vmaf_score": 90.0, "crf": null}',
        b'{"src": "a", "encoder": "libx264", "vmaf_score": 90.0, "width": 1920}',
        b'{"src": "a", "encoder": "libx264", "vmaf_score": 90.0, "adm2": NaN}',  # NaN outside the features
    ]
    chunk = parse_lines(lines, "f")
    assert chunk.rejections.examples["wrong-value-type"] == ["f:1: wrong-value-type: crf is nan"]
    assert chunk.n_rows == 4
    crf, y_avg, width = (FEATURE_NAMES.index(name) for name in ("crf", "y_avg", "width"))
    assert chunk.raw[0, crf] == 31  # a null primary key falls back to its alias
    assert np.isnan(chunk.raw[0, y_avg]) and np.isnan(chunk.raw[1, crf])
    assert chunk.raw[2, width] == 1920 and np.isnan(chunk.raw[2, crf])
    assert np.isnan(chunk.raw[3]).all()


def test_aliases_and_per_frame_canonical_rows_load():
    lines = [
        b'{"source": "s1", "codec": "libx265", "cq": 30, "vmaf": 80.5, "actual_kbps": 900, "fps": 30}',
        b'{"src": "s2", "encoder": "libx265", "cq": 28, "frame_index": 0, "vmaf": 88.1, "adm2": 0.97, '
        b'"vif_scale0": 0.5, "vif_scale1": 0.8, "vif_scale2": 0.9, "vif_scale3": 0.95, "motion2": 3.2}',
    ]
    chunk = parse_lines(lines, "f")
    assert chunk.n_rows == 2 and chunk.rejections.total == 0
    assert chunk.sources == ["s1", "s2"]
    assert chunk.target.tolist() == [80.5, 88.1]
    assert chunk.raw[0, FEATURE_NAMES.index("crf")] == 30
    assert chunk.raw[0, RAW_COLUMNS.index("bitrate_kbps")] == 900  # the encode's own bitrate


def test_feature_stand_ins_follow_the_contract(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(
        b'{"src": "a", "encoder": "libx264", "crf": 23, "vmaf_score": 90.0, "bitrate_kbps": 2400, '
        b'"framerate": 30, "duration_s": 4.0, "width": 1920, "height": 1080}\n'
        b'{"src": "b", "encoder": "libx264", "crf": 23, "vmaf_score": 90.0, "bitrate_kbps": 2400, '
        b'"framerate": 30, "probe_i_frame_avg_bytes": 123, "shot_length_frames": 7, "y_avg": 99}'
    )
    corpus = load_corpus([path])
    data = corpus.for_codec("libx264")
    f = dict(zip(FEATURE_NAMES, data.features[0].tolist(), strict=True))
    avg = 2400 * 1000 / 8 / 30
    assert f["probe_i_frame_avg_bytes"] == pytest.approx(5 * avg)
    assert f["probe_p_frame_avg_bytes"] == pytest.approx(avg)
    assert f["probe_b_frame_avg_bytes"] == pytest.approx(0.5 * avg)
    assert f["shot_length_frames"] == 120 and f["saliency_mean"] == 0 and f["y_var"] == 0
    own = dict(zip(FEATURE_NAMES, data.features[1].tolist(), strict=True))
    assert own["probe_i_frame_avg_bytes"] == 123 and own["shot_length_frames"] == 7 and own["y_avg"] == 99
    assert data.features.dtype == np.float32 and data.features.shape == (2, 14)


def test_file_is_parsed_once_for_all_codecs_and_last_line_needs_no_newline(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(GOOD + b"\n" + GOOD.replace(b"libx264", b"libx265"))
    corpus = load_corpus([path])
    assert corpus.rows_per_codec()["libx264"] == 1 and corpus.rows_per_codec()["libx265"] == 1
    assert corpus.inputs[0].bytes == path.stat().st_size and len(corpus.inputs[0].sha256) == 64
    import hashlib

    assert corpus.for_codec("libx265").provenance == [{"path": str(path), "rows": 1, "bytes": path.stat().st_size,
                                                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}]


def test_unreadable_file_is_reported_and_the_rest_still_loads(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(GOOD + b"\n")
    gone = tmp_path / "gone.jsonl"
    corpus = load_corpus([gone, good])
    assert corpus.rows_accepted == 1
    assert len(corpus.rejections.unreadable_files) == 1 and "gone.jsonl" in corpus.rejections.unreadable_files[0]


def test_discovery_skips_missing_roots_and_symlink_loops(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "x.jsonl").write_bytes(GOOD)
    (root / "a" / "notes.txt").write_text("ignored")
    (root / "top.jsonl").write_bytes(GOOD)
    os.symlink(root, root / "a" / "loop")
    files, present, missing = discover_files([root, tmp_path / "absent"])
    assert [p.relative_to(root).as_posix() for p in files] == ["a/b/x.jsonl", "top.jsonl"]
    assert present == [str(root)] and missing == [str(tmp_path / "absent")]


def test_large_parse_keeps_columns_aligned():
    lines = [GOOD.replace(b'"a"', f'"s{i % 9}"'.encode()).replace(b"90.0", f"{i % 100}.5".encode()) for i in range(999)]
    lines[500] = b"{broken"
    chunk = parse_lines(lines, "f")
    assert chunk.n_rows == 998 and chunk.raw.shape == (998, len(RAW_COLUMNS))
    # Row 500 was rejected, so accepted row 500 is input row 501.
    assert chunk.sources[500] == "s6" and chunk.target[500] == pytest.approx(1.5)
    assert chunk.sources[499] == "s4" and chunk.target[499] == pytest.approx(99.5)


def test_parallel_parse_matches_the_serial_parse_exactly(tmp_path, monkeypatch):
    from trainer.ingest import parsing as corpus_module

    lines = [GOOD.replace(b'"a"', f'"s{i % 7}"'.encode()) for i in range(3000)]
    for bad_at in (0, 1499, 1500, 2999):
        lines[bad_at] = b"{broken"
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n".join(lines))  # no trailing newline: the last line still counts
    serial, serial_info = corpus_module.read_corpus_file(path, workers=1)
    monkeypatch.setattr(corpus_module, "PARALLEL_PARSE_MIN_BYTES", 1)
    parallel, parallel_info = corpus_module.read_corpus_file(path, workers=3)
    assert parallel_info == serial_info
    assert parallel.sources == serial.sources and parallel.n_rows == 2996
    assert np.array_equal(parallel.raw, serial.raw, equal_nan=True)
    assert np.array_equal(parallel.target, serial.target) and np.array_equal(parallel.codec, serial.codec)
    assert parallel.rejections.counts == serial.rejections.counts
    assert parallel.rejections.examples == serial.rejections.examples
    where = [e.split(": malformed-json")[0] for e in parallel.rejections.examples["malformed-json"]]
    assert where == [f"{path}:1", f"{path}:1500", f"{path}:1501"]  # the first three, numbered across ranges


# --- per-frame rows ---------------------------------------------------------------------------

def _frames(tmp_path, rows: list[dict]) -> "Corpus":  # noqa: F821
    import orjson

    path = tmp_path / "frames.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return load_corpus([path])


def _frame(frame: int, vmaf: float, **extra) -> dict:
    return {"src": "s", "encoder": "libx265", "cq": 30, "frame_index": frame, "vmaf": vmaf, **extra}


def test_a_ladder_at_one_cq_without_resolution_is_rejected_frame_by_frame_not_merged(tmp_path):
    rungs = [[_frame(f, 90.0 - 10 * rung) for f in range(4)] for rung in range(3)]
    corpus = _frames(tmp_path, [row for rung in rungs for row in rung])
    assert (corpus.frames_aggregated, corpus.clips, corpus.rows_accepted) == (4, 1, 1)
    assert corpus.target.tolist() == [90.0]  # the first encode alone, not the mean of three
    assert corpus.rejections.counts["duplicate-frame"] == 8
    first = corpus.rejections.examples["duplicate-frame"][0]
    assert first == (f"{tmp_path / 'frames.jsonl'}:5: duplicate-frame: frame_index 0 of this clip is already at "
                     "line 1; frames of two encodes need width/height to tell them apart")
    # The same ladder with its resolutions is three clips.
    sized = [{**row, "width": w, "height": h} for rung, (w, h) in zip(rungs, [(1920, 1080), (1280, 720),
                                                                             (640, 360)], strict=True) for row in rung]
    corpus = _frames(tmp_path, sized)
    assert (corpus.clips, corpus.rejections.total) == (3, 0) and sorted(corpus.target.tolist()) == [70.0, 80.0, 90.0]


def test_a_resolution_on_some_frames_only_and_a_per_frame_bitrate_do_not_split_the_clip(tmp_path):
    rows = [_frame(f, 80.0 + f, bitrate_kbps=1000.0 + 100 * f) for f in range(5)]
    rows[0].update(width=1280, height=720, framerate=25)  # only the first frame says
    corpus = _frames(tmp_path, rows)
    assert (corpus.frames_aggregated, corpus.clips, corpus.rejections.total) == (5, 1, 0)
    raw = dict(zip(RAW_COLUMNS, corpus.raw[0].tolist(), strict=True))
    assert (raw["width"], raw["height"], raw["fps"], raw["bitrate_kbps"]) == (1280, 720, 25, 1200.0)
    assert corpus.target.tolist() == [82.0]


def test_frames_with_two_different_resolutions_in_one_group_stay_apart(tmp_path):
    rows = [_frame(0, 80.0, width=1280, height=720), _frame(0, 60.0, width=640, height=360), _frame(1, 81.0)]
    corpus = _frames(tmp_path, rows)  # frame 1 could be either encode: it is not guessed into one
    assert corpus.clips == 3 and corpus.rejections.total == 0


def test_a_clips_shot_length_is_its_frame_count_unless_the_rows_give_one(tmp_path):
    corpus = _frames(tmp_path, [_frame(f, 80.0) for f in range(48)])
    data = corpus.for_codec("libx265")
    assert data.features[0, FEATURE_NAMES.index("shot_length_frames")] == 48
    given = _frames(tmp_path, [_frame(f, 80.0, shot_length_frames=120) for f in range(48)])
    assert given.for_codec("libx265").features[0, FEATURE_NAMES.index("shot_length_frames")] == 120


@pytest.mark.parametrize("frame_index", ["3", 1.5, -1, True])
def test_a_frame_index_that_is_not_a_whole_number_is_rejected(frame_index):
    import orjson

    chunk = parse_lines([orjson.dumps(_frame(0, 80.0) | {"frame_index": frame_index})], "f")
    assert chunk.n_rows == 0 and chunk.rejections.examples["wrong-value-type"][0].startswith("f:1: wrong-value-type: "
                                                                                              "frame_index is")


# --- derived inputs ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        ("fps", 1e-40, "fps=1e-40 outside [1, 1000]"),
        ("fps", 0.5, "fps=0.5 outside [1, 1000]"),
        ("width", 8, "width=8.0 outside [16, 16384]"),
        ("height", 20000, "height=20000.0 outside [16, 16384]"),
    ],
)
def test_inputs_outside_sane_bounds_are_counted_rejections(field, value, detail):
    import orjson

    row = {"src": "a", "encoder": "libx264", "crf": 23, "vmaf_score": 90.0, "bitrate_kbps": 3000, field: value}
    chunk = parse_lines([GOOD, orjson.dumps(row)], "c.jsonl")
    assert chunk.n_rows == 1
    assert chunk.rejections.examples["input-out-of-range"] == [f"c.jsonl:2: input-out-of-range: {detail}"]


def test_every_accepted_row_projects_to_finite_float32_inputs():
    from trainer.core.features import non_finite_derived, project_features

    raw = np.full((2, len(RAW_COLUMNS)), np.nan)
    raw[:, RAW_COLUMNS.index("probe_bitrate_kbps")] = 1e7
    raw[:, RAW_COLUMNS.index("fps")] = [1.0, 1e-40]  # the second is what the bounds now keep out
    assert non_finite_derived(raw).tolist() == [-1, FEATURE_NAMES.index("probe_i_frame_avg_bytes")]
    assert np.isfinite(project_features(raw[:1])).all()


def test_range_checks_give_the_same_verdicts_block_by_block(monkeypatch):
    import orjson

    from trainer.ingest import parsing

    rows = [{"src": f"s{i % 3}", "encoder": "libx264", "crf": 23, "vmaf_score": 90.0, "bitrate_kbps": 3000,
             "fps": 30, "width": 1280, "height": 720} for i in range(11)]
    rows[1]["fps"], rows[5]["width"], rows[9]["bitrate_kbps"], rows[10]["height"] = 0.5, 8, 0, 1e9
    lines = [orjson.dumps(r) for r in rows]
    whole = parse_lines(lines, "c.jsonl")
    monkeypatch.setattr(parsing, "CHECK_BLOCK_ROWS", 3)  # the bad rows fall in four different blocks
    blocked = parse_lines(lines, "c.jsonl")
    assert blocked.rejections.counts == whole.rejections.counts == {"input-out-of-range": 4}
    assert blocked.rejections.examples == whole.rejections.examples
    assert blocked.line_no.tolist() == whole.line_no.tolist() == [1, 3, 4, 5, 7, 8, 9]
    np.testing.assert_array_equal(blocked.raw, whole.raw)
    assert blocked.sources == whole.sources == ["s0", "s2", "s0", "s1", "s0", "s1", "s2"]
