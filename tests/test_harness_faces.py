"""What the operator is told of the harness: probes at 0 kbps, the curve's warning and the predict command on
every face (batch line, card, Markdown summary, promotion plan and the console's promotion screen)."""

from __future__ import annotations

import json

import numpy as np

from tests.test_harness_probes import GOOD, _write
from tests.test_probe_bitrate_recovery import REPO_MODEL_DIR, _probe_rows
from trainer.core.probe_recovery import at_zero_kbps, implied_kbps, recover_probe_bitrate
from trainer.ingest.harness_probes import load_harness_probes, with_probe
from trainer.learning.results import CodecResult
from trainer.outputs.describe import describe_harness_curve, summary_table
from trainer.outputs.summary_md import summary_markdown
from trainer.shipping.artifacts import model_path
from trainer.shipping.cards import proposed_block
from trainer.shipping.harness_command import asked_target, predict_command
from trainer.shipping.onnx_export import ort_predict
from trainer.shipping.plan import PromotionPlan

WARNING = "picks worse than the harness's curve: the kept stub model that will be in the model directory picks"
CALIBRATION = {"status": "ok", "method": "split-conformal",
               "interval_table": [{"alpha": 0.1, "margin_vmaf": 7.7, "row_coverage": 0.9}],
               "pick_table": [{"alpha": 0.05, "target_offset_vmaf": 3.5}, {"alpha": 0.1, "target_offset_vmaf": 2.1113}]}


def test_a_probe_at_0_kbps_is_used_counted_and_recovered(tmp_path):
    path = _write(tmp_path, GOOD, {**GOOD, "src": "blind", "probe_bitrate_kbps": 0})
    probes = load_harness_probes([path])
    assert probes.n_unmeasured == 1
    features = probes.for_codec("libx264", np.array(["clip", "blind"]), 28, "ultrafast")
    assert features.rows.all() and features.unmeasured == 1
    assert "1 sent 0 kbps (not measured" in features.describe(np.array(["clip", "blind"]))
    rows = np.zeros((2, 14), dtype=np.float32)
    rows[:, 10], rows[:, 11] = 120, 30  # shot length, fps
    fed = with_probe(rows, features.probe)
    assert fed[0, 1] == np.float32(900.0)  # a measured bitrate passes through
    assert fed[1, 1] == implied_kbps(fed[1:])[0] > 0


def test_the_numpy_recovery_answers_as_the_shipped_graph_does():
    onnx_bytes = model_path(REPO_MODEL_DIR, "libx264").read_bytes()
    for x in _probe_rows():
        measured = float(x[0, 1])
        assert abs(float(recover_probe_bitrate(at_zero_kbps(x))[0, 1]) / measured - 1) < 1e-3  # issue #40: 0.01 %
        graph = ort_predict(onnx_bytes, at_zero_kbps(x))
        assert np.abs(graph - ort_predict(onnx_bytes, recover_probe_bitrate(at_zero_kbps(x)))).max() < 1e-4


def test_the_predict_command_asks_for_the_target_plus_the_alpha_010_offset():
    assert asked_target(2.1113) == 95.12  # rounded up: never below the calibrated target
    assert asked_target(2.11) == 95.11 and asked_target(None) == 93.0 and asked_target(100.0) == 93.0
    assert predict_command("libx264", CALIBRATION, "/m/") == (
        "vmaf-tune predict --source CLIP --codec libx264 --model /m/predictor_libx264.onnx --target-vmaf 95.12")
    assert predict_command("libx265", None).endswith("--model model/predictor_libx265.onnx --target-vmaf 93.00")


def _curve(warnings: list[str]) -> dict:
    pick = {"n": 80, "mean_abs_quality_error": 2.0, "mean_abs_vmaf_error": 3.0, "miss_rate": 0.2,
            "mean_bitrate_overspend_pct": 20.0}
    judged = {"judged": True, "worse": bool(warnings), "curve_pick": pick}
    return {"crf_pick": pick, "crf_pick_harness_probe": pick, "crf_pick_harness_probe_0kbps": pick,
            "floor": {"judged": True, "model": "kept stub", "worse": bool(warnings), "warnings": warnings,
                      "as_published": judged, "parse_fixed": judged}}


def _report(warnings: list[str]) -> dict:
    codec = {"codec": "libx264", "status": "fail", "mean_plcc": 0.9, "plcc_spread": 0.1, "folds": [],
             "n_rows_total": 448, "n_distinct_sources": 16, "failure_reasons": ["gate"], "crf_pick": None,
             "incumbent": {"comparable": True, "kind": "stub", "calibration": CALIBRATION},
             "calibration": None, "harness_curve": _curve(warnings)}
    return {"summary": {"n_pass": 0, "n_fail": 1, "n_insufficient": 0, "n_missing_rows": 0, "n_error": 0},
            "codecs": [codec], "promotion": {"planned": [], "blocked": {}},
            "run_provenance": {"args": {"model_dir": "/srv/model"}}}


def test_the_warning_and_the_command_reach_the_summary_only_when_worse():
    warned = summary_markdown(_report([WARNING + " 68 % misses"]))
    assert f"> **Warning (libx264)**: {WARNING}" in warned
    assert "vmaf-tune predict --source CLIP --codec libx264 --model /srv/model/predictor_libx264.onnx " \
           "--target-vmaf 95.12" in warned
    assert "| libx264 | harness curve as published (0 kbps) | plain |" in warned
    quiet = summary_markdown(_report([]))
    assert "Warning (libx264)" not in quiet and "--target-vmaf 95.12" in quiet
    json.dumps(_report([]))  # the report stays strict JSON


def test_the_batch_line_and_the_card_say_it_plainly():
    result = CodecResult("libx264", "fail", 448, 16, ["gate"], harness_curve=_curve([WARNING]))
    assert f"WARNING: {WARNING}" in describe_harness_curve(result.harness_curve)
    assert f"    WARNING: {WARNING}" in summary_table([result])
    assert f"- WARNING: {WARNING}" in proposed_block(result, "report.json")
    calm = CodecResult("libx264", "fail", 448, 16, ["gate"], harness_curve=_curve([]))
    assert "does not pick worse than the harness's own curve" in proposed_block(calm, "report.json")
    assert not any("WARNING" in line for line in describe_harness_curve(calm.harness_curve))


def test_the_promotion_plan_shows_the_command(tmp_path):
    from console.screens.confirm_plan import render_plan

    command = predict_command("libx264", CALIBRATION, str(tmp_path))
    plan = PromotionPlan(notes={"libx264": [f"WARNING: {WARNING}", f"harness, the kept model: {command}"]})
    assert any(command in line for line in plan.describe())
    shown = render_plan(plan).plain
    assert command in shown and WARNING in shown
