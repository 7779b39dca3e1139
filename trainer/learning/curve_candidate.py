"""The content-blind curve as a model-choice candidate: VMAF as a function of the quality knob alone.

Real encoders' CRF is close to constant quality: on the real libx264 sweep the CRF that meets a
VMAF target varies by about 2 steps from clip to clip, and what a probe's bitrate, resolution and
frame rate say about a clip explains little of it. A network that reads those inputs, trained on a
dozen sources, can then pick CRF worse than one curve for all content. The curve is the same
network with every input but quality pinned to zero weight (model.fit's ``observed``), monotone by
the same sign bounds in their narrower class (decreasing units only, model.CONVEX_SPLIT: the
simplest candidate keeps the simplest shape) and shipped through the same ONNX graph; nested LOSO
offers it beside the network wherever the quality input and some other input are live, and keeps it
only where it picks CRF at least as well on sources it never saw (learning.choice_rule).
"""

from __future__ import annotations

import numpy as np
import torch

from trainer.core.features import LOG_MASK, N_FEATURES, QUALITY_INPUT
from trainer.learning.line_model import live_inputs
from trainer.learning.model import model_inputs


def curve_observed(observed: np.ndarray | None) -> np.ndarray:
    """[14] bool: the quality input alone, where the corpus measured it (None: every input measured)."""
    only_quality = np.zeros(N_FEATURES, dtype=bool)
    only_quality[QUALITY_INPUT] = True
    return only_quality if observed is None else only_quality & np.asarray(observed, dtype=bool)


def curve_applies(features: np.ndarray, rows: np.ndarray, observed: np.ndarray | None, log_inputs: bool) -> bool:
    """Whether the curve differs from the network here: quality is live and so is some other input."""
    mask = torch.from_numpy(LOG_MASK if log_inputs else np.zeros_like(LOG_MASK))
    x = model_inputs(torch.from_numpy(np.asarray(features, dtype=np.float32)[rows]), mask).numpy()
    live = live_inputs(x, observed)
    return bool(live[QUALITY_INPUT]) and int(live.sum()) > 1
