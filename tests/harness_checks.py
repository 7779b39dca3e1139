"""What the encoder harness checks of a shipped model, and the inputs it really feeds, for several tests.

The harness feeds raw inputs (float32 [1, 14], name ``input``) and binary-searches the largest
quality whose prediction meets the target, so a model must answer finitely in [0, 100] for its
smoke input (1080p, 24 fps, 5000 kbps, every other input 0), never rise with CRF, and separate
a demanding target from a lax one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trainer.core.codecs import QUALITY_RANGE
from trainer.core.features import FEATURE_NAMES, QUALITY_INPUT
from trainer.shipping.onnx_export import ort_predict

DATA = Path(__file__).resolve().parent / "data"
CONTENT_INPUTS = ("saliency_mean", "saliency_var", "frame_diff_mean", "y_avg", "y_var")
# signalstats gives no saliency; a saliency model's typical output (a mean in [0, 1], a small variance).
SALIENCY = {"saliency_mean": 0.4, "saliency_var": 0.02}


def harness_input(crf: float, **inputs: float) -> np.ndarray:
    """The harness's smoke input at ``crf`` (1080p, 24 fps, 5000 kbps, the rest 0), with ``inputs`` set."""
    row = np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32)
    values = {"crf": crf, "probe_bitrate_kbps": 5000, "fps": 24, "width": 1920, "height": 1080, **inputs}
    for name, value in values.items():
        row[0, FEATURE_NAMES.index(name)] = value
    return row


def harness_picks(onnx_bytes: bytes, probe: np.ndarray, codec: str, targets: Sequence[float]) -> list[int]:
    """The harness's search per target: the largest integer quality whose prediction is >= target.

    The model answers once for every quality of the codec's range; the binary search then reads
    those answers exactly where the harness would ask.
    """
    low, high = QUALITY_RANGE[codec]
    rows = np.repeat(np.asarray(probe, dtype=np.float32).reshape(1, -1), high - low + 1, axis=0)
    rows[:, QUALITY_INPUT] = np.arange(low, high + 1)
    curve = ort_predict(onnx_bytes, rows)[:, 0]
    picks = []
    for target in targets:
        lo, hi, best = low, high, low
        while lo <= hi:
            middle = (lo + hi) // 2
            if float(curve[middle - low]) >= target:
                best, lo = middle, middle + 1
            else:
                hi = middle - 1
        picks.append(best)
    return picks


def harness_pick(onnx_bytes: bytes, probe: np.ndarray, target: float, codec: str) -> int:
    return harness_picks(onnx_bytes, probe, codec, (target,))[0]


def check_harness_contract(onnx_bytes: bytes, codec: str) -> None:
    smoke = ort_predict(onnx_bytes, harness_input(28))
    assert smoke.shape == (1, 1) and np.isfinite(smoke).all() and 0.0 <= float(smoke[0, 0]) <= 100.0
    curve = [float(ort_predict(onnx_bytes, harness_input(crf))[0, 0]) for crf in (20, 25, 30, 35, 40)]
    assert all(b <= a for a, b in zip(curve, curve[1:], strict=False)), curve
    probe = harness_input(0)
    assert harness_pick(onnx_bytes, probe, 95, codec) != harness_pick(onnx_bytes, probe, 80, codec)


def per_clip(name: str) -> dict[str, dict[str, object]]:
    """A bundled per-clip harness file (tests/data/README.md) keyed by clip."""
    rows = [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]
    return {str(r["src"]): r for r in rows}


def signalstats() -> dict[str, dict[str, float]]:
    """Per clip of the real CRF sweep, the content inputs the harness's signalstats pass feeds."""
    return {src: {k: float(v) for k, v in r.items() if k in CONTENT_INPUTS}
            for src, r in per_clip("crfsweep_signalstats.jsonl").items()}


def harness_sidecar_quantile(path: Path, alpha: float | None = None) -> float:
    """What the harness's ``vmaftune.conformal`` makes of a sidecar: ``load_split_calibration`` then
    ``quantile()`` (``--alpha`` replaces the sidecar's alpha), restated here as its peer tests do.

    The loader requires ``method == "split-conformal"``, reads ``residuals`` and ``alpha`` and ignores
    every other key; the half-width is the type-7 quantile of the residuals at the finite-sample level
    ``min(1, ceil((n + 1)(1 - alpha)) / n)``.
    """
    import math

    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("method") != "split-conformal":
        raise ValueError(f"sidecar method mismatch: {doc.get('method')!r}")
    residuals = sorted(float(r) for r in doc["residuals"])
    assert all(r >= 0 and math.isfinite(r) for r in residuals)
    alpha = float(doc["alpha"]) if alpha is None else alpha
    assert 0.0 < alpha < 1.0
    n = len(residuals)
    level = min(1.0, math.ceil((n + 1) * (1.0 - alpha)) / n)
    h = (n - 1) * level
    lo, hi = math.floor(h), math.ceil(h)
    return residuals[lo] if lo == hi else residuals[lo] + (h - lo) * (residuals[hi] - residuals[lo])
