"""The harness's own analytical curve: what it picks with no model, the floor every model is judged against.

Restated from ``vmaftune.predictor`` of github:lusoris/vmaf at commit c2a3c7e0 (``_DEFAULT_COEFFS``
and ``Predictor._predict_analytical``): ``vmaf = a - b*d - c*d*d + dd*log10(max(kbps, 1))`` with
``d = crf - crf_ref``, clamped to [0, 100]. Only the probe bitrate carries content: at the 0 kbps the
published harness sends (issue #40) the curve is the same for every clip. The arithmetic is the
harness's, in Python-float order (NumPy float64 element-wise ops round as Python's do; the log is
``math.log10`` once per distinct bitrate), so a pick here is the harness's pick on the same input.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from trainer.core.codecs import HARNESS_CURVE_COEFFS
from trainer.core.features import FEATURE_NAMES, QUALITY_INPUT

HARNESS_COMMIT = "c2a3c7e0"
_KBPS = FEATURE_NAMES.index("probe_bitrate_kbps")


def curve_vmaf(codec: str, crf: float, probe_bitrate_kbps: float) -> float:
    """One prediction, written as the harness writes it (the reference the vectorised form must equal)."""
    a, b, c, d, crf_ref = HARNESS_CURVE_COEFFS[codec]
    delta = float(crf) - crf_ref
    vmaf = a - b * delta - c * delta * delta + d * math.log10(max(float(probe_bitrate_kbps), 1.0))
    return max(0.0, min(100.0, vmaf))


def curve_predictor(codec: str) -> Callable[[np.ndarray], np.ndarray]:
    """``predict(features [n, 14]) -> float64 [n]``: the curve on model inputs, as crf_pick sweeps a model."""
    a, b, c, d, crf_ref = HARNESS_CURVE_COEFFS[codec]

    def predict(features: np.ndarray) -> np.ndarray:
        x = np.asarray(features)
        kbps, where = np.unique(np.maximum(x[:, _KBPS].astype(np.float64), 1.0), return_inverse=True)
        log_rate = np.array([math.log10(float(k)) for k in kbps], dtype=np.float64)[where.reshape(-1)]
        delta = x[:, QUALITY_INPUT].astype(np.float64) - crf_ref
        return np.clip(a - b * delta - c * delta * delta + d * log_rate, 0.0, 100.0)

    return predict


def coefficients_report(codec: str) -> dict[str, object]:
    a, b, c, d, crf_ref = HARNESS_CURVE_COEFFS[codec]
    return {"a": a, "b": b, "c": c, "d": d, "crf_ref": crf_ref,
            "source": f"vmaftune.predictor._DEFAULT_COEFFS at {HARNESS_COMMIT}"}
