"""The harness's search relies on one property: the prediction never rises with quality.

Checked on the ONNX file exactly as it would ship, before anything is written: for every
training ladder (its probe inputs held fixed, as the harness holds them), quality is swept over
the codec's whole range in integer steps, and any rise above ``MAX_RISE`` blocks promotion with
``not-monotone-in-quality`` naming the ladders, steps and sizes.
"""

from __future__ import annotations

import numpy as np

from trainer.core.codecs import QUALITY_RANGE
from trainer.learning.crf_pick import ladder_index, sweep_curves
from trainer.shipping.onnx_export import ort_predictor

MAX_RISE = 0.05  # VMAF, from one integer quality step to the next
SHOWN = 3


def monotone_violations(onnx_bytes: bytes, features: np.ndarray, codec: str) -> list[str]:
    """Empty when the model never rises by more than MAX_RISE between neighbouring qualities."""
    features = np.asarray(features, dtype=np.float32)
    if features.shape[0] == 0:
        return []
    _, first = np.unique(ladder_index(features), return_index=True)
    ladders = features[first]
    low, _high = QUALITY_RANGE[codec]
    model = ort_predictor(onnx_bytes)
    curves = sweep_curves(ladders, codec, lambda x: model(x)[:, 0])
    rises = np.diff(curves, axis=1)
    bad = np.argwhere(rises > MAX_RISE)
    if bad.size == 0:
        return []
    worst = sorted(bad.tolist(), key=lambda lq: -rises[lq[0], lq[1]])[:SHOWN]
    examples = ", ".join(
        f"ladder at {int(ladders[k, 12])}x{int(ladders[k, 13])} probe {ladders[k, 1]:.0f} kbps: "
        f"+{rises[k, q]:.3f} from {low + q} to {low + q + 1}"
        for k, q in worst
    )
    n_ladders = len({int(k) for k, _q in bad.tolist()})
    return [f"not-monotone-in-quality: {n_ladders} of {ladders.shape[0]} training ladders rise with quality "
            f"by more than {MAX_RISE} VMAF per step ({bad.shape[0]} steps), e.g. {examples}"]
