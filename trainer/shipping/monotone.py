"""The harness's search relies on one property: the prediction never rises with quality.

Checked on the ONNX file exactly as it would ship, before anything is written: for every
training ladder (its probe inputs held fixed, as the harness holds them), quality is swept over
the codec's whole range in integer steps, and any rise above ``MAX_RISE`` blocks promotion with
``not-monotone-in-quality`` naming the ladders, steps and sizes.
"""

from __future__ import annotations

import numpy as np

from trainer.core.codecs import QUALITY_RANGE
from trainer.learning.crf_pick import ladder_index, sweep_chunks
from trainer.shipping.onnx_export import ort_predictor

MAX_RISE = 0.05  # VMAF, from one integer quality step to the next
SHOWN = 3


def monotone_violations(onnx_bytes: bytes, features: np.ndarray, codec: str) -> list[str]:
    """Empty when the model never rises by more than MAX_RISE between neighbouring qualities.

    Swept a chunk of ladders at a time, keeping only the rises found: memory follows the chunk, not the
    corpus (a million-row corpus can have a million ladders)."""
    features = np.asarray(features, dtype=np.float32)
    if features.shape[0] == 0:
        return []
    _, first = np.unique(ladder_index(features), return_index=True)
    ladders = features[first]
    low, _high = QUALITY_RANGE[codec]
    model = ort_predictor(onnx_bytes)
    found: list[tuple[float, int, int]] = []  # (rise, ladder, step) of every rise above MAX_RISE
    for start, curves in sweep_chunks(ladders, codec, lambda x: model(x)[:, 0]):
        rises = np.diff(curves, axis=1)
        found += [(float(rises[k, q]), start + int(k), int(q)) for k, q in np.argwhere(rises > MAX_RISE)]
    if not found:
        return []
    worst = sorted(found, reverse=True)[:SHOWN]
    examples = ", ".join(
        f"ladder at {int(ladders[k, 12])}x{int(ladders[k, 13])} probe {ladders[k, 1]:.0f} kbps: "
        f"+{rise:.3f} from {low + q} to {low + q + 1}"
        for rise, k, q in worst
    )
    n_ladders = len({k for _rise, k, _q in found})
    return [f"not-monotone-in-quality: {n_ladders} of {ladders.shape[0]} training ladders rise with quality "
            f"by more than {MAX_RISE} VMAF per step ({len(found)} steps), e.g. {examples}"]
