"""A probe bitrate of 0 means "not measured": the bitrate the probe's own frame sizes imply, in NumPy.

The published harness encodes its probe to ``-f null``, where ffmpeg prints ``bitrate=N/A``, so it
sends 0 kbps beside real I/P frame sizes (issue #40). The shipped ONNX graph recovers the value in
its first step (``trainer.shipping.onnx_export.probe_bitrate_recovery``); this is the same formula
for everything that judges a model before it is an ONNX file (the fold models, ``--harness-probes``),
so a fold model fed 0 kbps answers as its exported graph would. The harness's analytical curve does
no such thing: it takes ``max(kbps, 1)`` of whatever it parsed (``trainer.learning.harness_curve``).
"""

from __future__ import annotations

import numpy as np

from trainer.core.features import FEATURE_NAMES

PROBE_MAX_FRAMES = 240  # the harness's probe encodes at most this many frames (``probe_max_frames``)
_KBPS, _I, _P = (FEATURE_NAMES.index(n) for n in ("probe_bitrate_kbps", "probe_i_frame_avg_bytes",
                                                   "probe_p_frame_avg_bytes"))
_SHOT, _FPS = FEATURE_NAMES.index("shot_length_frames"), FEATURE_NAMES.index("fps")


def implied_kbps(features: np.ndarray) -> np.ndarray:
    """float32 [n]: ``8 * fps * (I + (n - 1) * P) / n / 1000``, ``n = max(1, min(shot_length_frames, 240))``."""
    x = np.asarray(features, dtype=np.float32)
    frames = np.maximum(np.minimum(x[:, _SHOT], np.float32(PROBE_MAX_FRAMES)), np.float32(1.0))
    probe_bytes = x[:, _I] + (frames - np.float32(1.0)) * x[:, _P]
    return (probe_bytes / frames * x[:, _FPS] * np.float32(8.0 / 1000.0)).astype(np.float32)


def unmeasured(features: np.ndarray) -> np.ndarray:
    """bool [n]: rows whose probe bitrate says "not measured" (0 or less)."""
    return np.asarray(features)[:, _KBPS] <= 0


def recover_probe_bitrate(features: np.ndarray) -> np.ndarray:
    """float32 copy of ``features`` with every unmeasured probe bitrate replaced by ``implied_kbps``."""
    out = np.array(features, dtype=np.float32, copy=True)
    missing = unmeasured(out)
    if missing.any():
        out[missing, _KBPS] = implied_kbps(out[missing])
    return out


def at_zero_kbps(features: np.ndarray) -> np.ndarray:
    """float32 copy of ``features`` with the probe bitrate set to 0: what the published harness sends."""
    out = np.array(features, dtype=np.float32, copy=True)
    out[:, _KBPS] = 0.0
    return out
