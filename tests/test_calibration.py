"""Calibrated margins and target offsets: the maths, its honesty (cross-conformal), the sidecar the harness reads."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.conftest import shipped_model_dir
from tests.harness_checks import DATA, harness_sidecar_quantile
from trainer.learning.calibration import (
    ALPHAS,
    BAND_MIN_VMAF,
    CalibrationSet,
    calibration_report,
    conformal_quantile,
    cross_quantiles,
    interval_table,
    pick_table,
)
from trainer.learning.pick_offsets import UNFIXABLE_OFFSET, PickCase, PickLadder
from trainer.outputs.report_reader import ReportUnreadable, codec_results, read_report
from trainer.outputs.summary_md import summary_markdown
from trainer.run.cli import main
from trainer.shipping.artifacts import calibration_path, card_path, model_path, sha256_file
from trainer.shipping.sidecar import check_sidecar

SUBSET = DATA / "crfsweep_libx264_subset.jsonl"


def _sidecar(tmp_path, residuals, alpha=0.05):
    path = tmp_path / "sidecar.json"
    path.write_text(json.dumps({"alpha": alpha, "method": "split-conformal", "n": len(residuals),
                                "residuals": [float(r) for r in residuals]}))
    return path


@pytest.mark.parametrize("n", [1, 2, 7, 50, 321])
def test_the_quantile_is_the_harness_rule_bit_for_bit(tmp_path, n):
    rng = np.random.default_rng(n)
    residuals = np.round(np.abs(rng.normal(0, 5, n)), 4)
    for alpha in (0.05, 0.10, 0.20, 0.5):
        assert conformal_quantile(residuals, alpha) == harness_sidecar_quantile(_sidecar(tmp_path, residuals), alpha)
    assert np.isnan(conformal_quantile([], 0.1))


def _ladder(rng, source="clip", bias=0.0, low=0):
    """A measured ladder (CRF 18..45 step 3, VMAF falling with CRF, noisy) and a monotone curve off by ``bias``."""
    qualities = np.arange(18, 46, 3, dtype=np.float64)
    measured = 100.0 - 1.4 * (qualities - 16) - rng.uniform(0, 3) + rng.normal(0, 0.4, qualities.size)
    grid = np.arange(low, 52, dtype=np.float64)
    curve = np.clip(100.0 - 1.4 * (grid - 16) + bias + 0.02 * rng.normal(0, 1, grid.size).cumsum(), 0, 100)
    curve = np.minimum.accumulate(curve).astype(np.float32)  # the model is monotone non-increasing in quality
    log_rate = np.log(4000.0 * np.exp(-0.1 * (qualities - 18)))
    return PickLadder(source, low, curve, qualities, measured, log_rate)


def test_the_pick_score_is_exact_a_pick_at_target_plus_q_misses_iff_q_is_at_most_the_score():
    rng = np.random.default_rng(3)
    checked = 0
    for k in range(60):
        ladder = _ladder(rng, bias=rng.normal(0, 4))
        for target, oracle in ladder.targets():
            needed = ladder.needed_offset(target)
            if abs(needed) == UNFIXABLE_OFFSET:
                continue
            # exact up to the rounding of target + offset: probe just either side of the score, and at random
            for offset in [*rng.uniform(-12, 12, 25), needed - 1e-6, needed + 1e-6]:
                assert ladder.pick_at(target, float(offset), oracle).miss == (offset <= needed), (k, target, offset)
                checked += 1
    assert checked > 5000


def _known_noise_set(sigma=2.0, n_sources=20, rows=30, seed=0, bias_sigma=2.0):
    """Predictions off by N(0, sigma) per row; ladders whose curve is off by N(0, bias_sigma) per source."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(BAND_MIN_VMAF, 100, n_sources * rows)
    residuals = np.round(np.abs(rng.normal(0, sigma, truth.size)), 4)
    sources = np.repeat([f"s{i:02d}" for i in range(n_sources)], rows)
    folds = np.repeat(np.arange(n_sources) % 5, rows)
    ladders = [_ladder(rng, f"s{i:02d}", bias=rng.normal(0, bias_sigma)) for i in range(n_sources)]
    cases = [PickCase(ladder, t, o, ladder.needed_offset(t)) for ladder in ladders for t, o in ladder.targets()]
    pick_folds = np.array([int(c.ladder.source[1:]) % 5 for c in cases])
    return CalibrationSet(residuals, folds, sources, cases, pick_folds)


def test_on_known_noise_the_margin_is_the_noise_quantile_coverage_holds_and_tables_are_monotone_in_alpha():
    cal = _known_noise_set()
    report = calibration_report(cal, "cv-plus", "challenger")
    assert report["status"] == "ok" and report["pick_status"] == "ok" and report["n_sources"] == 20
    intervals = {row["alpha"]: row for row in report["interval_table"]}
    # |N(0, 2)|: its 0.90 quantile is 1.645 * 2 = 3.29, 0.95 is 3.92, 0.80 is 2.56
    for alpha, expected in ((0.05, 3.92), (0.10, 3.29), (0.20, 2.56)):
        assert abs(intervals[alpha]["margin_vmaf"] - expected) < 0.12 * expected, (alpha, intervals[alpha])
        assert abs(intervals[alpha]["row_coverage"] - (1 - alpha)) < 0.04
    margins = [intervals[a]["margin_vmaf"] for a in ALPHAS]
    coverage = [intervals[a]["row_coverage"] for a in ALPHAS]
    assert margins == sorted(margins, reverse=True) and coverage == sorted(coverage, reverse=True)
    picks = {row["alpha"]: row for row in report["pick_table"]}
    offsets = [picks[a]["target_offset_vmaf"] for a in ALPHAS]
    misses = [picks[a]["crf_pick"]["miss_rate"] for a in ALPHAS]
    spend = [picks[a]["crf_pick"]["mean_bitrate_overspend_pct"] for a in ALPHAS]
    assert offsets == sorted(offsets, reverse=True) and misses == sorted(misses)
    assert spend == sorted(spend, reverse=True)
    assert misses[-1] <= 0.2 + 0.06 and report["plain_pick"]["miss_rate"] > misses[-1]
    assert report["residuals"] == sorted(report["residuals"]) and len(report["residuals"]) == report["n_rows"]


def test_each_folds_margin_comes_from_the_other_folds_only_poisoned_rows_never_widen_their_own():
    cal = _known_noise_set()
    poisoned = cal.residuals.copy()
    poisoned[cal.row_folds == 2] += 1000.0  # fold 2 wildly wrong
    clean_margins = cross_quantiles(cal.residuals, cal.row_folds, 0.10)
    dirty_margins = cross_quantiles(poisoned, cal.row_folds, 0.10)
    assert dirty_margins[2] == clean_margins[2]  # its own rows never enter its margin
    assert all(dirty_margins[f] > 100 for f in (0, 1, 3, 4))  # but they do enter every other fold's (at alpha 0.10)
    dirty = CalibrationSet(poisoned, cal.row_folds, cal.row_sources, cal.picks, cal.pick_folds)
    # Judged on its own rows with the others' margin, fold 2 is never covered: coverage <= the other 4/5.
    assert interval_table(dirty)[1]["row_coverage"] <= 0.8 + 1e-9
    # The same for picks: poisoning one fold's scores leaves its own offset as it was.
    needed = np.array([c.needed for c in cal.picks])
    bad = needed + np.where(cal.pick_folds == 2, 50.0, 0.0)
    assert cross_quantiles(bad, cal.pick_folds, 0.10)[2] == cross_quantiles(needed, cal.pick_folds, 0.10)[2]
    poisoned_picks = [PickCase(c.ladder, c.target, c.oracle, float(b)) for c, b in zip(cal.picks, bad, strict=True)]
    ok = pick_table(cal)[1]["crf_pick"]["miss_rate"]
    dirty_picks = pick_table(CalibrationSet(cal.residuals, cal.row_folds, cal.row_sources, poisoned_picks,
                                            cal.pick_folds))[1]["crf_pick"]["miss_rate"]
    assert dirty_picks <= ok  # the other folds now ask for more: never fewer misses would mean a leak of fold 2's own


def test_too_few_rows_or_sources_gives_no_margin_and_too_few_picks_no_offsets():
    cal = _known_noise_set(n_sources=5, rows=5)  # 25 rows < 30
    report = calibration_report(cal, "cv-plus", "challenger")
    assert report["status"] == "too-few" and "25 in-band rows < 30" in report["reason"]
    assert report["interval_table"] == [] and "residuals" not in report
    few = _known_noise_set(n_sources=6, rows=10)
    few = CalibrationSet(few.residuals, few.row_folds, few.row_sources, few.picks[:12], few.pick_folds[:12])
    report = calibration_report(few, "cv-plus", "challenger")
    assert report["status"] == "ok" and report["interval_table"] and report["pick_table"] == []
    assert report["pick_status"] == "too-few: 12 picks < 20" and report["plain_pick"] is None


@pytest.fixture(scope="module")
def kept_stub_run(tmp_path_factory):
    """A failing codec run with --yes on six real clips: the stub is kept and its sidecar written."""
    tmp = tmp_path_factory.mktemp("kept")
    model_dir = shipped_model_dir(tmp / "model", ("libx264",))
    stub = model_path(model_dir, "libx264").read_bytes()
    code = main(["--corpus", str(SUBSET), "--codec", "libx264", "--model-dir", str(model_dir), "--out-dir",
                 str(tmp / "runs"), "--epochs", "40", "--yes"])
    return code, tmp, model_dir, stub, json.loads((tmp / "runs" / "report.json").read_text())


@pytest.mark.slow
def test_a_failing_codec_with_yes_keeps_its_stub_and_ships_the_stubs_sidecar_the_harness_reads(kept_stub_run):
    code, _tmp, model_dir, stub, report = kept_stub_run
    codec = report["codecs"][0]
    assert code == 1 and codec["status"] == "fail" and model_path(model_dir, "libx264").read_bytes() == stub
    kept = codec["incumbent"]["calibration"]
    assert kept["status"] == "ok" and kept["method"] == "split-conformal" and kept["model"] == "shipped"
    assert kept["model_sha256"] == sha256_file(model_path(model_dir, "libx264"))
    sidecar_file = calibration_path(model_dir, "libx264")
    sidecar = json.loads(sidecar_file.read_text())
    assert sidecar["model_sha256"] == kept["model_sha256"] and sidecar["residuals"] == sorted(sidecar["residuals"])
    assert list(sidecar) == sorted(sidecar) and sidecar["n"] == len(sidecar["residuals"]) == kept["n_rows"]
    margins = {row["alpha"]: row["margin_vmaf"] for row in kept["interval_table"]}
    assert harness_sidecar_quantile(sidecar_file) == margins[0.05]  # the harness's default alpha, exactly
    assert harness_sidecar_quantile(sidecar_file, 0.10) == margins[0.10]  # predict --alpha 0.1
    card = card_path(model_dir, "libx264").read_text()
    assert "## Status: Proposed (gate-failed:" in card and "## Calibration" in card
    assert f"| 0.05 | {margins[0.05]:.2f} |" in card and f"model/{sidecar_file.name} --alpha 0.1" in card
    offset = next(r["target_offset_vmaf"] for r in kept["pick_table"] if r["alpha"] == 0.10)
    assert f"- ask for target + {offset:.1f} to miss <= 10 %" in card
    assert {"alpha": 0.1, "target_offset_vmaf": offset} in sidecar["pick_offsets"]
    assert check_sidecar(sidecar_file, kept["model_sha256"]).status == "ok"
    planned = {(c["action"], c["path"]) for c in report["promotion"]["applied"]}
    assert ("write-calibration", str(sidecar_file)) in planned  # one journalled set with the card patch
    # The challenger's own (cv-plus) calibration is reported beside it, for the model a PASS would ship.
    assert codec["calibration"]["method"] == "cv-plus" and codec["calibration"]["status"] == "ok"


@pytest.mark.slow
def test_the_report_summary_and_review_mode_carry_the_calibration(kept_stub_run):
    _code, tmp, _model_dir, _stub, report = kept_stub_run
    markdown = summary_markdown(report)
    assert "### Calibration" in markdown and "| libx264 | shipped stub | 0.1 |" in markdown
    results = codec_results(read_report(tmp / "runs" / "report.json"))
    assert results["libx264"].calibration == report["codecs"][0]["calibration"]
    assert results["libx264"].incumbent["calibration"] == report["codecs"][0]["incumbent"]["calibration"]
    broken = json.loads((tmp / "runs" / "report.json").read_text())
    broken["codecs"][0]["calibration"] = {"status": "ok"}
    (tmp / "broken.json").write_text(json.dumps(broken))
    with pytest.raises(ReportUnreadable, match="calibration"):
        read_report(tmp / "broken.json")


@pytest.mark.slow
def test_a_sidecar_missing_unreadable_or_of_another_model_is_reported_never_trusted(tmp_path, kept_stub_run):
    _code, _tmp, model_dir, _stub, report = kept_stub_run
    sha = report["codecs"][0]["incumbent"]["calibration"]["model_sha256"]
    assert check_sidecar(tmp_path / "absent.json", sha).status == "missing"
    (tmp_path / "bad.json").write_text("{not json")
    assert check_sidecar(tmp_path / "bad.json", sha).status == "unreadable"
    (tmp_path / "neg.json").write_text(json.dumps({"alpha": 0.05, "method": "split-conformal", "n": 1,
                                                   "residuals": [-1.0]}))
    assert "non-negative" in check_sidecar(tmp_path / "neg.json", sha).detail
    other = check_sidecar(calibration_path(model_dir, "libx264"), "0" * 64)
    assert other.status == "other-model" and other.margin_vmaf is None
    # The run reports what it found beside the shipped model before it wrote the new one.
    assert report["codecs"][0]["incumbent"]["sidecar"]["status"] == "missing"


@pytest.mark.slow
def test_a_stale_sidecar_is_replaced_by_the_next_run_and_regenerating_the_stub_removes_it(tmp_path, kept_stub_run):
    _code, _tmp, kept_dir, _stub, _report = kept_stub_run
    model_dir = shipped_model_dir(tmp_path / "model", ("libx264",))
    stale = json.loads(calibration_path(kept_dir, "libx264").read_text())
    calibration_path(model_dir, "libx264").write_text(json.dumps({**stale, "model_sha256": "f" * 64}))
    code = main(["--corpus", str(SUBSET), "--codec", "libx264", "--model-dir", str(model_dir), "--out-dir",
                 str(tmp_path / "runs"), "--epochs", "40"])
    report = json.loads((tmp_path / "runs" / "report.json").read_text())
    assert code == 1 and report["codecs"][0]["incumbent"]["sidecar"]["status"] == "other-model"
    assert ("libx264", "write-calibration") in {(c["codec"], c["action"]) for c in report["promotion"]["planned"]}

    from trainer.shipping.stubs import write_stubs

    shutil.copy(calibration_path(kept_dir, "libx264"), calibration_path(model_dir, "libx264"))
    written, backup = write_stubs(model_dir, ["libx264"], tmp_path / "backup", "20261205T120000Z")
    assert not calibration_path(model_dir, "libx264").exists()  # a fresh stub has no calibration
    assert (backup / calibration_path(model_dir, "libx264").name).exists()  # what it removed is backed up
    assert calibration_path(model_dir, "libx264") not in written
    assert "## Calibration" not in card_path(model_dir, "libx264").read_text()


@pytest.mark.slow
def test_with_the_harness_probe_the_kept_model_is_calibrated_on_what_the_harness_serves_it(tmp_path):
    """The harness feeds its own (ultrafast) probe, not the corpus's ladder: the margin must be of those errors."""
    from trainer.ingest.corpus import load_corpus
    from trainer.ingest.harness_probes import load_harness_probes, served_features
    from trainer.shipping.onnx_export import ort_predict

    probes = DATA / "crfsweep_probe_libx264.jsonl"
    model_dir = shipped_model_dir(tmp_path / "model", ("libx264",))
    code = main(["--corpus", str(SUBSET), "--codec", "libx264", "--model-dir", str(model_dir), "--out-dir",
                 str(tmp_path / "runs"), "--epochs", "40", "--harness-probes", str(probes)])
    codec = json.loads((tmp_path / "runs" / "report.json").read_text())["codecs"][0]
    assert code == 1
    kept, mine = codec["incumbent"]["calibration"], codec["calibration"]
    assert kept["inputs"].startswith("the harness's own probe for 6 of 6 sources")
    assert mine["inputs"].startswith("the harness's own probe for 6 of 6 sources")
    data = load_corpus([SUBSET]).for_codec("libx264")
    harness = load_harness_probes([probes]).for_codec("libx264", data.sources, 28, "ultrafast")
    served = served_features(data.features, harness.probe)
    assert not np.array_equal(served, data.features)  # the probe really differs from the ladder's
    stub = ort_predict(model_path(model_dir, "libx264").read_bytes(), served)[:, 0].astype(np.float64)
    band = data.target >= BAND_MIN_VMAF
    expected = sorted(np.round(np.abs(data.target[band].astype(np.float64) - stub[band]), 4).tolist())
    assert kept["residuals"] == expected
