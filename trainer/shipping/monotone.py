"""The harness's search relies on one property: the prediction never rises with quality.

Checked on the ONNX file exactly as it would ship, before anything is written: for every
training ladder (its probe inputs held fixed, as the harness holds them), quality is swept over
the codec's whole range in integer steps, and any rise above ``MAX_RISE`` blocks promotion with
``not-monotone-in-quality`` naming the ladders, steps and sizes.
"""

from __future__ import annotations

import numpy as np

from trainer.core.codecs import QUALITY_RANGE
from trainer.shipping.onnx_export import ort_predict

MAX_RISE = 0.05  # VMAF, from one integer quality step to the next
QUALITY = 0  # column of the quality input in the contract order
SHOWN = 3


def quality_sweeps(features: np.ndarray, codec: str) -> tuple[np.ndarray, np.ndarray]:
    """One row per distinct ladder (inputs other than quality), each swept over the codec's range.

    Returns (ladder rows [L, 14], sweep inputs [L * Q, 14]) with Q integer qualities per ladder.
    """
    others = np.delete(np.asarray(features, dtype=np.float32), QUALITY, axis=1)
    _, first = np.unique(others, axis=0, return_index=True)
    ladders = np.asarray(features, dtype=np.float32)[np.sort(first)]
    low, high = QUALITY_RANGE[codec]
    qualities = np.arange(low, high + 1, dtype=np.float32)
    sweep = np.repeat(ladders, qualities.size, axis=0)
    sweep[:, QUALITY] = np.tile(qualities, ladders.shape[0])
    return ladders, sweep


def monotone_violations(onnx_bytes: bytes, features: np.ndarray, codec: str) -> list[str]:
    """Empty when the model never rises by more than MAX_RISE between neighbouring qualities."""
    ladders, sweep = quality_sweeps(features, codec)
    if ladders.shape[0] == 0:
        return []
    low, _high = QUALITY_RANGE[codec]
    curves = ort_predict(onnx_bytes, sweep).reshape(ladders.shape[0], -1)
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
