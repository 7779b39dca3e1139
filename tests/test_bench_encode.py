"""The benchmark's encode section, on one recorded real run: parsing, scoring picks against a sweep, the table.

``tests/data/bench_encode_libx264.json`` is the record one run of ``--sections encode`` wrote (3 public
clips, the harness at c2a3c7e0, the imageio-ffmpeg static ffmpeg 9.0.2; docs/benchmarks.md). Nothing here
needs ffmpeg, the harness or a network.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from trainer.bench.cli import main as bench_main
from trainer.bench.encode_media import EncodeToolMissing, ffmpeg_exe, parse_geometry, parse_libvmaf_log, parse_vstats
from trainer.bench.encode_scoring import CURVE, all_cases, best_crf, clip_cases, summarise, table_lines
from trainer.bench.harness_bridge import HarnessNotFound, load_harness
from trainer.core.features import FEATURE_NAMES
from trainer.learning.crf_pick import harness_pick
from trainer.shipping.onnx_export import ort_predict

REPO = Path(__file__).resolve().parent.parent
RECORD_PATH = REPO / "tests" / "data" / "bench_encode_libx264.json"
RECORD = json.loads(RECORD_PATH.read_text(encoding="utf-8"))

# Real `ffmpeg -i` stream lines of the three clips and of a full-range one (ffmpeg 9.0.2).
STREAMS = {
    "  Stream #0:0[0x1](eng): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 640x360 [SAR 1:1 DAR "
    "16:9], 98 kb/s, 29.83 fps, 29.83 tbr, 11456 tbn (default)": (640, 360, 29.83),
    "  Stream #0:0[0x1](eng): Video: h264 (Baseline) (avc1 / 0x31637661), yuv420p(tv, smpte170m, progressive), "
    "768x432, 614 kb/s, 12.50 fps, 12.50 tbr, 25k tbn (default)": (768, 432, 12.5),
    "  Stream #0:0[0x1](eng): Video: h264 (Main) (avc1 / 0x31637661), yuv420p(tv, smpte170m, progressive), "
    "768x432, 187 kb/s, 10 fps, 10 tbr, 200k tbn (default)": (768, 432, 10.0),
    "  Stream #0:0: Video: h264 (High), yuvj420p(pc, progressive), 640x480, 30 fps, 30 tbr, 1k tbn, start 0.033000 "
    "(default)": (640, 480, 30.0),
}


@pytest.mark.parametrize("line", list(STREAMS))
def test_geometry_comes_from_the_video_stream_line(line):
    text = f"Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'clip.mp4':\n  Duration: 00:00:39.85\n{line}\n"
    geometry = parse_geometry(text)
    assert (geometry.width, geometry.height, geometry.fps) == STREAMS[line]


def test_output_without_a_video_stream_is_refused():
    with pytest.raises(ValueError, match="no video stream"):
        parse_geometry("  Stream #0:0: Audio: aac (LC), 48000 Hz, stereo, fltp, 128 kb/s\n")


@pytest.mark.parametrize("clip", RECORD["clips"], ids=lambda c: c["name"])
def test_vstats_give_the_harness_frame_sizes_and_x264_own_bitrate(clip):
    """The recorded -vstats_file reproduces what the harness parsed from it, and libx264's own kb/s line."""
    probe, features = clip["probe"], clip["features"]
    totals = parse_vstats(probe["vstats"])
    assert totals.frames == features["shot_length_frames"] == clip["frames"]
    assert totals.frame_types == "I" + "P" * (totals.frames - 1)  # one I frame, no B frames (ultrafast)
    sizes = [int(s) for s in re.findall(r"f_size=\s*(\d+)", probe["vstats"])]
    assert sizes[0] == features["probe_i_frame_avg_bytes"]
    assert np.mean(sizes[1:]) == pytest.approx(features["probe_p_frame_avg_bytes"], rel=1e-12)
    assert totals.kbps(clip["fps"]) == pytest.approx(probe["measured_kbps"], abs=1e-3)
    x264_kbps = float(re.search(r"kb/s:([\d.]+)", probe["stderr_tail"]).group(1))
    # libx264 knows the exact rate; `ffmpeg -i` prints it to two decimals (29.83 for 29.833...): 0.012 % here.
    assert totals.kbps(clip["fps"]) == pytest.approx(x264_kbps, rel=2e-4)
    assert features["probe_bitrate_kbps"] == 0.0  # what the published harness read: bitrate=N/A for -f null
    assert probe["argv"][-3:] == ["-f", "null", "/dev/null"]


def test_vstats_size_counts_the_frame_not_the_stream_so_far():
    line = "out=  0 st=  0 frame=     3 q= 23.0 f_size=   412 s_size=        9KiB time= 0.100 type= P\n"
    totals = parse_vstats("frame=  1 q= 24.0 size=   7000 time= 0.0 type= I\n" + line)
    assert (totals.frames, totals.total_bytes, totals.frame_types) == (2, 7412, "IP")


def test_libvmaf_log_pooled_mean_or_a_clear_error():
    assert parse_libvmaf_log({"pooled_metrics": {"vmaf": {"min": 80.1, "mean": 91.25}}}) == 91.25
    with pytest.raises(ValueError, match="pooled_metrics.vmaf.mean"):
        parse_libvmaf_log({"frames": []})


def _clip(picks: dict) -> dict:
    vmaf = {20: 96.0, 21: 94.0, 22: 92.0, 23: 90.0, 24: 88.0}
    kbps = {20: 400.0, 21: 300.0, 22: 200.0, 23: 150.0, 24: 100.0}
    return {"name": "known", "sweep": sorted(vmaf), "picks": picks,
            "encodes": {str(c): {"vmaf": vmaf[c], "kbps": kbps[c]} for c in vmaf}}


def test_picks_are_scored_against_the_best_crf_of_the_sweep():
    clip = _clip({"m": {"published": {"91": 24, "97": 20}, "measured": {"91": 20, "97": 20}}})
    assert best_crf(clip, 91.0) == 22 and best_crf(clip, 90.0) == 23 and best_crf(clip, 97.0) is None
    cases, unjudged = clip_cases(clip, [91.0, 97.0])
    assert unjudged == [97.0]
    late, early = (next(c for c in cases if c.variant == v) for v in ("published", "measured"))
    assert (late.best, late.pick, late.steps, late.miss) == (22, 24, 2, True)  # 88 < 91 - 1
    assert late.overspend_pct == pytest.approx(-50.0)
    assert (early.steps, early.miss, early.overspend_pct) == (2, False, pytest.approx(100.0))
    summary = summarise(cases)[("m", "published")]
    assert (summary.cases, summary.steps, summary.miss_pct) == (1, 2.0, 100.0)


def test_a_pick_that_was_never_encoded_is_a_clear_error():
    with pytest.raises(ValueError, match="known: no encode at CRF 51"):
        clip_cases(_clip({"m": {"published": {"91": 51}}}), [91.0])


def test_the_recorded_run_scores_every_clip_and_target_for_each_predictor():
    cases, unjudged = all_cases(RECORD)
    summaries = summarise(cases)
    assert unjudged == 0
    assert {key: s.cases for key, s in summaries.items()} == {
        (name, variant): len(RECORD["clips"]) * len(RECORD["targets"])
        for name in [*RECORD["models"], CURVE] for variant in ("published", "measured")}
    for (name, variant), summary in summaries.items():  # the summary is the plain mean of its cases
        mine = [c for c in cases if (c.predictor, c.variant) == (name, variant)]
        assert summary.steps == pytest.approx(sum(abs(c.pick - c.best) for c in mine) / len(mine))
    lines = table_lines(RECORD)
    assert lines[0] == "| predictor | as published (0 kbps) | with the measured probe bitrate |"
    curve_row = next(line for line in lines if line.startswith("| the harness's curve |"))
    expected = f"{summaries[(CURVE, 'published')].steps:.2f} steps"
    assert curve_row.split(" | ")[1].startswith(expected)


def test_the_shipped_model_answers_the_same_at_0_kbps_as_at_the_measured_bitrate():
    """On the harness's real features of each clip: every CRF 0-51 within 0.05 VMAF, so the same picks."""
    onnx = (REPO / "model" / "predictor_libx264.onnx").read_bytes()
    crfs = np.arange(0, 52, dtype=np.float32)
    for clip in RECORD["clips"]:
        curves = []
        for kbps in (0.0, clip["probe"]["measured_kbps"]):
            rows = np.tile(np.array([clip["features"].get(n, 0.0) for n in FEATURE_NAMES], dtype=np.float32),
                           (crfs.size, 1))
            rows[:, FEATURE_NAMES.index("crf")] = crfs
            rows[:, FEATURE_NAMES.index("probe_bitrate_kbps")] = kbps
            curves.append(np.clip(ort_predict(onnx, rows)[:, 0], 0.0, 100.0))
        assert np.max(np.abs(curves[0] - curves[1])) < 0.05, clip["name"]
        for target in RECORD["targets"]:
            assert harness_pick(curves[0], 0, target) == harness_pick(curves[1], 0, target)


def test_replaying_a_record_prints_its_table(capsys):
    assert bench_main(["--sections", "encode", "--encode-record", str(RECORD_PATH)]) == 0
    out = capsys.readouterr().out
    assert "the harness read 0 kbps" in out and "| the harness's curve |" in out
    assert f"{len(RECORD['clips']) * len(RECORD['targets'])} cases" in out


@pytest.mark.parametrize("argv, message", [
    (["--sections", "encode"], "needs --clips DIR and --harness PATH"),
    (["--sections", "encode", "--encode-record", "x", "--encode-crfs", "30"], "--encode-crfs '30'"),
    (["--sections", "encode", "--encode-record", "x", "--encode-targets", "90,abc"], "--encode-targets"),
])
def test_encode_section_usage_errors_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        bench_main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_wrong_clips_model_or_harness_paths_exit_2_naming_the_path(tmp_path, capsys):
    clips, harness = tmp_path / "clips", tmp_path / "harness"
    clips.mkdir()
    harness.mkdir()
    base = ["--sections", "encode", "--clips", str(clips), "--harness", str(harness), "--workdir", str(tmp_path)]
    assert bench_main(base) == 2
    assert f"--clips {clips}: no video files" in capsys.readouterr().err
    (clips / "a.mp4").write_bytes(b"not read before the paths are checked")
    assert bench_main([*base, "--model-dir", str(tmp_path)]) == 2
    assert f"--model-dir {tmp_path}: no predictor_libx264.onnx" in capsys.readouterr().err
    assert bench_main([*base, "--model-dir", str(REPO / "model")]) == 2
    assert f"{harness}: no vmaftune package" in capsys.readouterr().err


def test_a_path_without_the_harness_is_refused_clearly(tmp_path):
    with pytest.raises(HarnessNotFound, match="no vmaftune package"):
        load_harness(tmp_path)


def test_without_the_extra_ffmpeg_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if not installed
    with pytest.raises(EncodeToolMissing, match=r"pip install -e '\.\[encode\]'"):
        ffmpeg_exe()
    assert ffmpeg_exe("/opt/ffmpeg") == "/opt/ffmpeg"
