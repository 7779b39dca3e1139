"""What the encoder harness checks of shipped models, checked here on every stub and a promoted model.

The harness feeds raw inputs (float32 [1, 14], name ``input``) and binary-searches the largest
quality whose prediction meets the target, so a model must answer finitely in [0, 100] for its
smoke input (1080p, 24 fps, 5000 kbps, every other input 0), never rise with CRF, and separate
a demanding target from a lax one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trainer.core.codecs import QUALITY_RANGE, SUPPORTED_CODECS
from trainer.core.features import FEATURE_NAMES
from trainer.shipping.monotone import monotone_violations
from trainer.shipping.onnx_export import ort_predict

MODEL_DIR = Path(__file__).resolve().parent.parent / "model"


def harness_input(crf: float) -> np.ndarray:
    row = np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32)
    for name, value in {"crf": crf, "probe_bitrate_kbps": 5000, "fps": 24, "width": 1920, "height": 1080}.items():
        row[0, FEATURE_NAMES.index(name)] = value
    return row


def harness_pick(onnx_bytes: bytes, probe: np.ndarray, target: float, codec: str) -> int:
    """The harness's search: the largest integer quality whose prediction is >= target (binary search)."""
    low, high = QUALITY_RANGE[codec]
    best = low
    while low <= high:
        middle = (low + high) // 2
        row = probe.copy()
        row[0, 0] = middle
        if float(ort_predict(onnx_bytes, row)[0, 0]) >= target:
            best, low = middle, middle + 1
        else:
            high = middle - 1
    return best


def check_harness_contract(onnx_bytes: bytes, codec: str) -> None:
    smoke = ort_predict(onnx_bytes, harness_input(28))
    assert smoke.shape == (1, 1) and np.isfinite(smoke).all() and 0.0 <= float(smoke[0, 0]) <= 100.0
    curve = [float(ort_predict(onnx_bytes, harness_input(crf))[0, 0]) for crf in (20, 25, 30, 35, 40)]
    assert all(b <= a for a, b in zip(curve, curve[1:], strict=False)), curve
    probe = harness_input(0)
    assert harness_pick(onnx_bytes, probe, 95, codec) != harness_pick(onnx_bytes, probe, 80, codec)


@pytest.mark.parametrize("codec", SUPPORTED_CODECS)
def test_every_shipped_stub_meets_the_harness_contract_and_is_monotone_over_its_range(codec):
    onnx_bytes = (MODEL_DIR / f"predictor_{codec}.onnx").read_bytes()
    check_harness_contract(onnx_bytes, codec)
    grid = np.concatenate([harness_input(28), harness_input(28) * np.array([1, 0.2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.25,
                                                                          0.5, 0.5], dtype=np.float32)])
    assert monotone_violations(onnx_bytes, grid, codec) == []


def test_inputs_the_stubs_never_saw_vary_do_not_move_them():
    """Stubs are trained without frame sizes or content statistics: whatever the harness feeds there is inert."""
    onnx_bytes = (MODEL_DIR / "predictor_libx264.onnx").read_bytes()
    plain = harness_input(30)
    fed = plain.copy()
    for name, value in {"probe_i_frame_avg_bytes": 90000, "probe_p_frame_avg_bytes": 20000,
                        "probe_b_frame_avg_bytes": 6000, "y_avg": 117.9, "frame_diff_mean": 3.1, "y_var": 122.0,
                        "saliency_mean": 0.4, "saliency_var": 0.02}.items():
        fed[0, FEATURE_NAMES.index(name)] = value
    assert abs(float(ort_predict(onnx_bytes, fed)[0, 0]) - float(ort_predict(onnx_bytes, plain)[0, 0])) < 1e-4
