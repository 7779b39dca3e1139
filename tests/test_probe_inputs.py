"""Models for the harness's question: probe inputs along ladders, inert unseen inputs, monotone in CRF, crf_pick."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.core.features import RAW_COLUMNS, RAW_INDEX
from trainer.ingest.probes import observed_inputs, with_probe_inputs
from trainer.learning.crf_pick import crf_pick_metrics, harness_pick
from trainer.learning.model import fit, predict
from trainer.learning.profiles import DEFAULT_PROFILE
from trainer.shipping.monotone import monotone_violations


def _raw(rows: list[dict[str, float]]) -> np.ndarray:
    raw = np.full((len(rows), len(RAW_COLUMNS)), np.nan)
    for i, row in enumerate(rows):
        for key, value in row.items():
            raw[i, RAW_INDEX[key]] = value
    return raw


def _ladder(src_kbps: float, crfs=(20, 26, 30, 36), **extra: float) -> list[dict[str, float]]:
    return [{"crf": c, "bitrate_kbps": src_kbps * np.exp(-0.1 * (c - 28)), "width": 1920, "height": 1080, "fps": 24,
             **extra} for c in crfs]


def test_every_row_of_a_ladder_gets_the_bitrate_at_the_probe_quality_log_linearly_interpolated():
    raw = _raw(_ladder(1000.0))
    out, counts = with_probe_inputs(raw, np.array(["a"] * 4), probe_quality=28)
    assert np.allclose(out[:, RAW_INDEX["probe_bitrate_kbps"]], 1000.0, rtol=1e-9)
    assert counts.as_report() == {"from_ladder": 4, "from_probe_preset": 0, "explicit": 0, "own_encode": 0,
                                  "sizes_withheld": 0, "sizes_unverified": 0}
    beyond, _ = with_probe_inputs(raw, np.array(["a"] * 4), probe_quality=40)  # extrapolated from the two nearest
    assert np.allclose(beyond[:, RAW_INDEX["probe_bitrate_kbps"]], 1000.0 * np.exp(-1.2), rtol=1e-9)


def test_explicit_probe_values_win_and_single_points_and_bitrate_ladders_keep_their_own_bitrate():
    rows = _ladder(1000.0) + [{"crf": 30, "bitrate_kbps": 555.0, "width": 640, "height": 360, "fps": 30},
                              {"bitrate_kbps": 777.0, "width": 1280, "height": 720, "fps": 30}]
    rows[0]["probe_bitrate_kbps"] = 4321.0
    out, counts = with_probe_inputs(_raw(rows), np.array(["a"] * 4 + ["b", "c"]), probe_quality=28)
    probe = out[:, RAW_INDEX["probe_bitrate_kbps"]]
    assert probe[0] == 4321.0 and np.allclose(probe[1:4], 1000.0) and probe[4] == 555.0 and probe[5] == 777.0
    assert counts.as_report() == {"from_ladder": 3, "from_probe_preset": 0, "explicit": 1, "own_encode": 2,
                                  "sizes_withheld": 0, "sizes_unverified": 0}


def test_sources_resolutions_and_frame_rates_are_separate_ladders():
    rows = _ladder(1000.0) + _ladder(3000.0) + _ladder(200.0, width=640, height=360)
    out, _ = with_probe_inputs(_raw(rows), np.array(["a"] * 4 + ["b"] * 4 + ["a"] * 4), probe_quality=28)
    assert np.allclose(out[:, RAW_INDEX["probe_bitrate_kbps"]], [1000.0] * 4 + [3000.0] * 4 + [200.0] * 4)


def test_the_probe_preset_ladder_gives_every_ladder_of_its_source_its_probe():
    # ultrafast spends ~3x the bits of medium at the same CRF: the harness probes with ultrafast
    medium, fast = _ladder(1000.0), _ladder(3000.0)
    rows = medium + fast + _ladder(500.0, width=640, height=360) + [{"crf": 33, "bitrate_kbps": 400.0, "width": 1920,
                                                                      "height": 1080, "fps": 24}]
    presets = np.array(["medium"] * 4 + ["ultrafast"] * 4 + ["medium"] * 4 + ["slow"])
    sources = np.array(["a"] * 12 + ["a"])
    out, counts = with_probe_inputs(_raw(rows), sources, 28, presets, probe_preset="ultrafast")
    probe = out[:, RAW_INDEX["probe_bitrate_kbps"]]
    assert np.allclose(probe[:8], 3000.0)  # medium takes the ultrafast ladder's CRF-28 bitrate, not its own 1000
    assert np.allclose(probe[8:12], 500.0)  # 640x360 has no ultrafast ladder: its own
    assert probe[12] == pytest.approx(3000.0)  # even a single point, once a real probe-preset ladder exists for it
    assert counts.as_report() == {"from_ladder": 4, "from_probe_preset": 9, "explicit": 0, "own_encode": 0,
                                  "sizes_withheld": 0, "sizes_unverified": 0}
    without, counts = with_probe_inputs(_raw(rows), sources, 28, presets, probe_preset="veryfast")
    assert np.allclose(without[:8, RAW_INDEX["probe_bitrate_kbps"]], [1000.0] * 4 + [3000.0] * 4)
    assert without[12, RAW_INDEX["probe_bitrate_kbps"]] == 400.0  # alone in its ladder: its own bitrate
    assert counts.as_report() == {"from_ladder": 12, "from_probe_preset": 0, "explicit": 0, "own_encode": 1,
                                  "sizes_withheld": 0, "sizes_unverified": 0}


def test_one_probe_preset_encode_stands_for_its_source_only_at_the_probe_quality_and_explicit_probes_win():
    rows = _ladder(1000.0) + [{"crf": 28, "bitrate_kbps": 3000.0, "width": 1920, "height": 1080, "fps": 24}]
    rows[1]["probe_bitrate_kbps"] = 2500.0
    presets = np.array(["medium"] * 4 + ["ultrafast"])
    out, counts = with_probe_inputs(_raw(rows), np.array(["a"] * 5), 28, presets, "ultrafast")
    assert np.allclose(out[:, RAW_INDEX["probe_bitrate_kbps"]], [3000.0, 2500.0, 3000.0, 3000.0, 3000.0])
    assert counts.as_report() == {"from_ladder": 0, "from_probe_preset": 4, "explicit": 1, "own_encode": 0,
                                  "sizes_withheld": 0, "sizes_unverified": 0}
    rows[4]["crf"] = 30  # one ultrafast encode at another quality: nothing to interpolate along
    out, counts = with_probe_inputs(_raw(rows), np.array(["a"] * 5), 28, presets, "ultrafast")
    assert np.allclose(out[:, RAW_INDEX["probe_bitrate_kbps"]], [1000.0, 2500.0, 1000.0, 1000.0, 3000.0])
    assert counts.as_report() == {"from_ladder": 3, "from_probe_preset": 0, "explicit": 1, "own_encode": 1,
                                  "sizes_withheld": 0, "sizes_unverified": 0}
    single, counts = with_probe_inputs(_raw(rows[4:]), np.array(["a"]), 30, presets[4:], "medium")
    assert counts.own_encode == 1  # a lone encode of another preset keeps its own bitrate, as before


def _sized(rows: list[dict[str, float]], i_bytes: float, b_bytes: float) -> list[dict[str, float]]:
    return [{**r, "i_frame_avg_bytes": i_bytes * np.exp(-0.1 * (r["crf"] - 28)),
             "b_frame_avg_bytes": b_bytes * np.exp(-0.1 * (r["crf"] - 28))} for r in rows]


def test_a_ladder_at_another_preset_lends_its_bitrate_but_not_its_frame_sizes():
    # x264 ultrafast (the harness's probe) codes no B frames: a medium ladder's I/P/B split is not what it measures
    rows = _sized(_ladder(1000.0), 50000.0, 2000.0) + _sized(_ladder(500.0, width=640, height=360), 9000.0, 0.0)
    presets = np.array(["medium"] * 4 + [""] * 4)
    out, counts = with_probe_inputs(_raw(rows), np.array(["a"] * 8), 28, presets, probe_preset="ultrafast")
    assert np.allclose(out[:4, RAW_INDEX["probe_bitrate_kbps"]], 1000.0)
    assert np.isnan(out[:4, RAW_INDEX["probe_i_frame_avg_bytes"]]).all()
    assert np.isnan(out[:4, RAW_INDEX["probe_b_frame_avg_bytes"]]).all()
    assert np.allclose(out[4:, RAW_INDEX["probe_i_frame_avg_bytes"]], 9000.0)  # naming no preset: as before
    assert counts.as_report() == {"from_ladder": 8, "from_probe_preset": 0, "explicit": 0, "own_encode": 0,
                                  "sizes_withheld": 4, "sizes_unverified": 4}  # the unnamed ladder: taken as ultrafast
    medium_only, counts = with_probe_inputs(_raw(rows[:4]), np.array(["a"] * 4), 28, presets[:4], "ultrafast")
    observed = observed_inputs(medium_only)
    assert observed[RAW_INDEX["probe_bitrate_kbps"]]
    assert not observed[RAW_INDEX["probe_i_frame_avg_bytes"]] and not observed[RAW_INDEX["probe_b_frame_avg_bytes"]]
    assert counts.sizes_withheld == 4


def test_the_probe_preset_ladder_lends_its_frame_sizes_to_every_ladder_of_its_source():
    rows = _sized(_ladder(1000.0), 50000.0, 2000.0) + _sized(_ladder(3000.0), 60000.0, 0.0)
    presets = np.array(["medium"] * 4 + ["ultrafast"] * 4)
    out, counts = with_probe_inputs(_raw(rows), np.array(["a"] * 8), 28, presets, probe_preset="ultrafast")
    assert np.allclose(out[:, RAW_INDEX["probe_i_frame_avg_bytes"]], 60000.0)
    assert np.allclose(out[:, RAW_INDEX["probe_bitrate_kbps"]], 3000.0)
    assert counts.sizes_withheld == 0 and counts.from_probe_preset == 8


def test_frame_sizes_come_from_the_ladder_and_stand_ins_are_not_observed():
    rows = [{**r, "i_frame_avg_bytes": 50000 * np.exp(-0.1 * (r["crf"] - 28))} for r in _ladder(1000.0)]
    out, _ = with_probe_inputs(_raw(rows), np.array(["a"] * 4), probe_quality=28)
    assert np.allclose(out[:, RAW_INDEX["probe_i_frame_avg_bytes"]], 50000.0)
    observed = observed_inputs(out)
    assert observed[RAW_INDEX["probe_i_frame_avg_bytes"]] and not observed[RAW_INDEX["probe_p_frame_avg_bytes"]]
    assert not observed[RAW_INDEX["y_avg"]]


def test_the_harness_search_is_a_binary_search_for_the_largest_quality_meeting_the_target():
    curve = np.array([99, 97, 95, 93, 90, 85, 80, 70], dtype=float)  # qualities 10..17
    assert harness_pick(curve, 10, 93) == 13
    assert harness_pick(curve, 10, 100) == 10  # nothing meets it: the range's low end
    assert harness_pick(curve, 10, 50) == 17


def test_crf_pick_compares_the_pick_with_the_oracle_of_the_measured_ladder():
    crfs = np.arange(18, 46, dtype=np.float32)
    features = np.zeros((crfs.size, 14), dtype=np.float32)
    features[:, 0] = crfs
    measured = 100.0 - 1.5 * (crfs - 18)  # 100 .. 59.5
    kbps = 1000 * np.exp(-0.1 * (crfs - 18))
    exact = crf_pick_metrics(features, measured, kbps, "libx264", lambda x: 100.0 - 1.5 * (x[:, 0] - 18))
    assert exact["n"] == 5 and exact["mean_abs_quality_error"] == 0 and exact["miss_rate"] == 0
    greedy = crf_pick_metrics(features, measured, kbps, "libx264", lambda x: 100.0 - 1.5 * (x[:, 0] - 20))
    assert greedy["mean_abs_quality_error"] == 2 and greedy["miss_rate"] == 1.0
    assert greedy["mean_bitrate_overspend_pct"] < 0  # it picks higher CRFs: fewer bits, too little quality


@pytest.fixture(scope="module")
def ladder_model():
    """A small generated ladder corpus: quality falls with CRF, content shifts the level."""
    rng = np.random.default_rng(0)
    rows, target = [], []
    for _source in range(8):
        level, kbps = rng.uniform(-8, 4), rng.uniform(500, 4000)
        for crf in range(18, 46, 3):
            rows.append([crf, kbps, 0, 0, 0, 0, 0, 0, 0, 0, 100, 24, 1920, 1080])
            target.append(np.clip(97 + level - 1.6 * (crf - 18) + 3 * np.log(kbps / 1000), 0, 100))
    features = np.array(rows, dtype=np.float32)
    observed = np.ones(14, dtype=bool)
    observed[5:10] = False  # no content statistics in this corpus
    weights = fit(features, np.array(target, dtype=np.float32), np.ones((1, len(rows)), bool),
                  DEFAULT_PROFILE, seed=3, observed=observed)
    return features, weights


def test_a_trained_model_never_rises_with_crf_anywhere_in_the_codec_range(ladder_model):
    from trainer.shipping.onnx_export import build_onnx

    features, weights = ladder_model
    assert monotone_violations(build_onnx(weights, "libx264"), features, "libx264") == []
    wild = features[:3].copy()
    wild[:, 1] = [10, 1e5, 3e6]  # probe bitrates far outside training
    assert monotone_violations(build_onnx(weights, "libx264"), wild, "libx264") == []


def test_inputs_constant_or_unobserved_in_training_get_exactly_zero_weight(ladder_model):
    features, weights = ladder_model
    assert np.all(weights.w1[0, 5:10] == 0)  # unobserved content statistics
    assert np.all(weights.w1[0, 10] == 0) and np.all(weights.w1[0, 12:14] == 0)  # constant shot length, size
    fed = features.copy()
    fed[:, 5:11] = [0.4, 0.02, 3.1, 117.9, 122.0, 240]
    fed[:, 12:14] = [3840, 2160]
    assert np.max(np.abs(predict(weights, fed) - predict(weights, features))) < 1e-4


def test_a_model_rising_with_crf_is_blocked_naming_ladders_and_steps(ladder_model):
    from trainer.shipping.onnx_export import build_onnx

    features, weights = ladder_model
    rising = type(weights)(**{k: v.copy() for k, v in vars(weights).items()})
    rising.w1[0, 0] = -rising.w1[0, 0]  # flip the quality path: now the prediction grows with CRF
    [reason] = monotone_violations(build_onnx(rising, "libx264"), features, "libx264")
    assert reason.startswith("not-monotone-in-quality: ") and "from " in reason and "1920x1080" in reason
