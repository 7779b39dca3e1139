"""The harness's analytical curve, scored bit for bit as the harness computes it, and the floor it sets.

The coefficients and the formula are restated here from vmaftune.predictor at c2a3c7e0 (as the peer
tests restate the harness's quantile and search); a second check reads them from the fetched harness
where one is on this machine, and is skipped where none is (CI).
"""

from __future__ import annotations

import ast
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from trainer.core.codecs import QUALITY_RANGE, SUPPORTED_CODECS
from trainer.core.features import FEATURE_NAMES, N_FEATURES
from trainer.ingest.corpus import CodecData
from trainer.learning.crf_pick import TARGETS, harness_pick, sweep_curves
from trainer.learning.floor import FLOOR_WARNING, compare_with_curve
from trainer.learning.harness_curve import HARNESS_CURVE_COEFFS, curve_predictor
from trainer.learning.harness_floor import harness_curve_report
from trainer.learning.pick_offsets import pick_ladders
from trainer.learning.results import FoldResult

# vmaftune/predictor.py _DEFAULT_COEFFS at c2a3c7e0: codec -> (a, b, c, d, crf_ref)
RESTATED = {
    "libx264": (95.0, 1.20, 0.012, 1.5, 23.0), "libx265": (96.0, 1.10, 0.010, 1.6, 28.0),
    "libsvtav1": (94.0, 0.95, 0.009, 1.4, 35.0), "libaom-av1": (94.0, 0.90, 0.009, 1.4, 35.0),
    "libvvenc": (95.0, 0.85, 0.008, 1.5, 32.0), "h264_nvenc": (93.0, 1.30, 0.014, 1.4, 23.0),
    "hevc_nvenc": (94.0, 1.20, 0.012, 1.5, 23.0), "av1_nvenc": (93.0, 1.10, 0.011, 1.5, 23.0),
    "h264_amf": (92.0, 1.40, 0.015, 1.3, 23.0), "hevc_amf": (93.0, 1.30, 0.013, 1.4, 23.0),
    "av1_amf": (92.0, 1.20, 0.012, 1.4, 23.0), "h264_qsv": (93.0, 1.30, 0.013, 1.4, 23.0),
    "hevc_qsv": (94.0, 1.20, 0.012, 1.5, 23.0), "av1_qsv": (93.0, 1.10, 0.011, 1.5, 23.0),
}
# codec_adapters/*.py quality_default at c2a3c7e0 for the codecs checked below (pick_crf starts its search there)
QUALITY_DEFAULT = {"libx264": 23, "libx265": 28, "libsvtav1": 35}
MIRROR = Path("/work/.mirror/lusoris+vmaf/repo")
KBPS = FEATURE_NAMES.index("probe_bitrate_kbps")


def _harness_predict(codec: str, crf: int, probe_bitrate_kbps: float) -> float:
    """Predictor._predict_analytical, restated line by line."""
    a, b, c, d, crf_ref = RESTATED[codec]
    delta = float(crf) - crf_ref
    bitrate_kbps = max(probe_bitrate_kbps, 1.0)
    vmaf = a - b * delta - c * delta * delta + d * math.log10(bitrate_kbps)
    return max(0.0, min(100.0, vmaf))


def _harness_pick_crf(codec: str, kbps: float, target: float) -> int:
    """pick_crf, restated: binary search over the adapter's range, starting from its quality_default."""
    lo, hi = QUALITY_RANGE[codec]
    best = QUALITY_DEFAULT[codec]
    while lo <= hi:
        mid = (lo + hi) // 2
        if _harness_predict(codec, mid, kbps) >= target:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def _probe(kbps: float, codec: str) -> np.ndarray:
    row = np.zeros((1, N_FEATURES), dtype=np.float32)
    row[0, KBPS] = kbps
    return row


# float32 values (the model inputs' type), so the harness and the trainer are fed the very same number
RATES = [float(np.float32(v)) for v in (0.0, 0.5, 1.0, 3.7, 412.7, 651.978, 2657.48, 18000.0, 1e6)]


def test_the_restated_coefficients_are_the_ones_the_trainer_scores():
    assert HARNESS_CURVE_COEFFS == RESTATED
    assert set(RESTATED) == set(SUPPORTED_CODECS)


@pytest.mark.parametrize("codec", SUPPORTED_CODECS)
def test_the_curve_equals_the_harness_bit_for_bit_at_every_quality(codec):
    low, high = QUALITY_RANGE[codec]
    curves = sweep_curves(np.vstack([_probe(k, codec) for k in RATES]), codec, curve_predictor(codec))
    for kbps, curve in zip(RATES, curves, strict=True):
        expected = [_harness_predict(codec, q, kbps) for q in range(low, high + 1)]
        assert curve.tolist() == expected  # ==, not approx: the same float64 arithmetic in the same order


@pytest.mark.parametrize("codec", sorted(QUALITY_DEFAULT))
def test_picks_on_the_curve_are_the_harness_picks(codec):
    low, _high = QUALITY_RANGE[codec]
    curves = sweep_curves(np.vstack([_probe(k, codec) for k in RATES]), codec, curve_predictor(codec))
    for kbps, curve in zip(RATES, curves, strict=True):
        for target in (*TARGETS, 70.0, 99.5):
            # every target the report asks is met at the lowest quality, so the search's start never matters
            assert harness_pick(curve, low, target) == _harness_pick_crf(codec, kbps, target)


def _fetched(path: str) -> str:
    return subprocess.run(["git", "-C", str(MIRROR), "show", f"HEAD:tools/vmaf-tune/src/vmaftune/{path}"],
                          check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(not MIRROR.is_dir(), reason="no fetched harness on this machine")
def test_the_restatement_matches_the_fetched_harness():
    source = _fetched("predictor.py")
    tree = ast.parse(source)
    found = next(node.value for node in ast.walk(tree) if isinstance(node, ast.AnnAssign)
                 and getattr(node.target, "id", "") == "_DEFAULT_COEFFS")
    assert ast.literal_eval(found) == RESTATED
    analytical = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_predict_analytical")
    body = ast.unparse(analytical)
    assert "delta = float(crf) - crf_ref" in body
    assert "bitrate_kbps = max(features.probe_bitrate_kbps, 1.0)" in body
    assert "vmaf = a - b * delta - c * delta * delta + d * math.log10(bitrate_kbps)" in body
    assert "return _clamp(vmaf, 0.0, 100.0)" in body
    for codec, module in (("libx264", "x264"), ("libx265", "x265"), ("libsvtav1", "svtav1")):
        adapter = _fetched(f"codec_adapters/{module}.py")
        assert f"quality_default: int = {QUALITY_DEFAULT[codec]}" in adapter


# --- the floor ----------------------------------------------------------------------------------------------

CODEC = "libx264"
QUALITIES = np.arange(15, 45, 5, dtype=np.float32)
N_SOURCES = 10


def _corpus(truth_offset: np.ndarray) -> CodecData:
    """One ladder per source, its probe bitrate its own; measured VMAF = the harness curve + the source's offset."""
    rows = []
    for s in range(N_SOURCES):
        for q in QUALITIES:
            x = np.zeros(N_FEATURES, dtype=np.float32)
            x[FEATURE_NAMES.index("crf")] = q
            x[KBPS] = 400.0 + 150.0 * s
            x[FEATURE_NAMES.index("fps")], x[FEATURE_NAMES.index("shot_length_frames")] = 30.0, 120.0
            rows.append(x)
    features = np.vstack(rows)
    sources = np.repeat([f"clip{s}" for s in range(N_SOURCES)], QUALITIES.size)
    curve = curve_predictor(CODEC)(features)
    target = np.clip(curve + np.repeat(truth_offset, QUALITIES.size), 0, 100).astype(np.float32)
    kbps = (8000.0 * np.exp(-0.11 * features[:, 0])).astype(np.float64)
    return CodecData(CODEC, features, target, sources, [], encode_kbps=kbps)


def _model(offset: np.ndarray):
    """A model = the curve + a per-source offset (the source told apart by its probe bitrate)."""
    curve = curve_predictor(CODEC)

    def predict(features: np.ndarray) -> np.ndarray:
        source = np.rint((features[:, KBPS] - 400.0) / 150.0).astype(int)
        return np.clip(curve(features) + offset[source], 0, 100)

    return predict


def _folds(data: CodecData, predict) -> list[FoldResult]:
    folds = []
    for k in range(5):
        rows = np.flatnonzero(np.isin(data.sources, [f"clip{2 * k}", f"clip{2 * k + 1}"]))
        ladders = pick_ladders(data.features[rows], data.target[rows], data.encode_kbps[rows], CODEC, predict,
                               data.sources[rows])
        folds.append(FoldResult(CODEC, k, tuple(sorted(set(data.sources[rows]))), 0.9, 0.9, 3.0, 0, rows.size, 0.0,
                                held_out_rows=rows, pick_ladders=ladders))
    return folds


SWING = np.array([6.0, -6.0] * (N_SOURCES // 2))  # too optimistic on half the clips, too pessimistic on the rest


def test_a_challenger_worse_than_the_curve_raises_the_warning():
    data = _corpus(np.zeros(N_SOURCES))  # the curve is right on this corpus
    report = harness_curve_report(data, _folds(data, _model(SWING)), challenger_ships=True, incumbent=None)
    floor = report["floor"]
    assert floor["worse"] and floor["parse_fixed"]["worse"]
    assert floor["parse_fixed"]["miss_rate_diff"]["low"] > 0 and floor["parse_fixed"]["bitrate_diff_pct"]["high"] > 0
    assert any(w.startswith(FLOOR_WARNING) and "promoted challenger" in w for w in floor["warnings"])
    assert report["crf_pick"]["miss_rate"] == 0.0  # the curve's own row: it never misses here


def test_a_challenger_better_than_the_curve_does_not():
    data = _corpus(-SWING)  # the curve errs both ways; the challenger knows each clip
    report = harness_curve_report(data, _folds(data, _model(-SWING)), challenger_ships=True, incumbent=None)
    floor = report["floor"]
    assert not floor["worse"] and floor["warnings"] == []
    assert floor["parse_fixed"]["judged"] and floor["parse_fixed"]["model_pick"]["miss_rate"] == 0.0
    assert floor["parse_fixed"]["curve_pick"]["miss_rate"] > 0.3


def test_the_kept_model_is_judged_when_the_challenger_does_not_ship():
    data = _corpus(np.zeros(N_SOURCES))
    folds = _folds(data, _model(SWING))
    kept = {"comparable": True, "kind": "stub", "crf_pick_served_by_source": {
        s: {"n": 4, "miss_rate": 0.0, "mean_bitrate_overspend_pct": 0.0} for s in sorted(set(data.sources))}}
    floor = harness_curve_report(data, folds, challenger_ships=False, incumbent=kept)["floor"]
    assert floor["model"] == "kept stub" and not floor["worse"]  # the stub that stays picks as well as the curve
    # ... but this run's model, which does not ship, is said to pick worse, as itself
    assert floor["challenger"]["parse_fixed"]["worse"]
    assert [w for w in floor["warnings"] if "this run's model (not promoted) picks" in w]
    assert not [w for w in floor["warnings"] if "will be in the model directory" in w]
    unjudged = harness_curve_report(data, folds, challenger_ships=False, incumbent=None)["floor"]
    assert unjudged["judged"] is False and "could not be scored" in unjudged["reason"]


def _by_source(misses: list[float], rates: list[float]) -> dict[str, dict]:
    return {f"s{i}": {"n": 5, "miss_rate": m, "mean_bitrate_overspend_pct": r}
            for i, (m, r) in enumerate(zip(misses, rates, strict=True))}


def test_differences_within_sampling_noise_or_trades_are_not_worse():
    curve = _by_source([0.2] * 8, [5.0] * 8)
    noisy = _by_source([0.6, 0.0, 0.4, 0.0, 0.2, 0.4, 0.0, 0.2], [5.0] * 8)  # +2.5 points, sources disagree
    assert not compare_with_curve(noisy, curve, "x")["worse"]
    trade = _by_source([0.6] * 8, [-20.0] * 8)  # more misses, clearly cheaper: a trade, not worse
    assert not compare_with_curve(trade, curve, "x")["worse"]
    dearer = _by_source([0.2] * 8, [25.0] * 8)  # the same misses at +20 points of bitrate on every source
    assert compare_with_curve(dearer, curve, "x")["worse"]
    few = compare_with_curve(_by_source([1.0] * 3, [50.0] * 3), _by_source([0.0] * 3, [0.0] * 3), "x")
    assert few["judged"] is False and not few["worse"]
    assert compare_with_curve(noisy, curve, "x") == compare_with_curve(noisy, curve, "x")  # seeded: same verdict
