"""What the encoder harness checks of shipped models (tests/harness_checks.py), on every shipped stub.

Promoted models are checked the same way in tests/test_promoted_contract.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.harness_checks import SALIENCY, check_harness_contract, harness_input, signalstats
from trainer.core.codecs import SUPPORTED_CODECS
from trainer.shipping.monotone import monotone_violations
from trainer.shipping.onnx_export import ort_predict

MODEL_DIR = Path(__file__).resolve().parent.parent / "model"


@pytest.mark.parametrize("codec", SUPPORTED_CODECS)
def test_every_shipped_stub_meets_the_harness_contract_and_is_monotone_over_its_range(codec):
    onnx_bytes = (MODEL_DIR / f"predictor_{codec}.onnx").read_bytes()
    check_harness_contract(onnx_bytes, codec)
    grid = np.concatenate([harness_input(28), harness_input(28) * np.array([1, 0.2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.25,
                                                                          0.5, 0.5], dtype=np.float32)])
    assert monotone_violations(onnx_bytes, grid, codec) == []


def test_inputs_the_stubs_never_saw_vary_do_not_move_them():
    """Stubs are trained without frame sizes or content statistics: what the harness feeds there is inert.

    Content inputs are each real clip's signalstats (tests/data), frame sizes a 1080p probe's.
    """
    onnx_bytes = (MODEL_DIR / "predictor_libx264.onnx").read_bytes()
    sizes = {"probe_i_frame_avg_bytes": 90000, "probe_p_frame_avg_bytes": 20000, "probe_b_frame_avg_bytes": 6000}
    for crf in (20, 30, 40):
        plain = float(ort_predict(onnx_bytes, harness_input(crf))[0, 0])
        for clip, stats in signalstats().items():
            fed = harness_input(crf, **sizes, **stats, **SALIENCY)
            assert abs(float(ort_predict(onnx_bytes, fed)[0, 0]) - plain) < 1e-4, (crf, clip)
