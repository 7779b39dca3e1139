"""The 14-input runtime contract and the vectorised projection from raw corpus columns."""

from __future__ import annotations

import numpy as np

FEATURE_NAMES: tuple[str, ...] = (
    "crf",
    "probe_bitrate_kbps",
    "probe_i_frame_avg_bytes",
    "probe_p_frame_avg_bytes",
    "probe_b_frame_avg_bytes",
    "saliency_mean",
    "saliency_var",
    "frame_diff_mean",
    "y_avg",
    "y_var",
    "shot_length_frames",
    "fps",
    "width",
    "height",
)
N_FEATURES = len(FEATURE_NAMES)

# Raw columns a corpus row may carry: the 14 features (under their runtime names) plus duration,
# which only feeds the shot-length stand-in.
RAW_COLUMNS: tuple[str, ...] = FEATURE_NAMES + ("duration_s",)
RAW_INDEX = {name: i for i, name in enumerate(RAW_COLUMNS)}

# Stand-in frame sizes relative to the average frame, used when a row has no probe sizes.
I_FRAME_FACTOR = 5.0
P_FRAME_FACTOR = 1.0
B_FRAME_FACTOR = 0.5


def project_features(raw: np.ndarray) -> np.ndarray:
    """Map raw columns (NaN = absent) to the 14 model inputs, in contract order, as float32.

    A row's own value always wins; absent probe sizes come from bitrate, absent shot length
    from framerate x duration, and every other absent input is 0.
    """
    raw = np.asarray(raw, dtype=np.float64)
    out = np.where(np.isnan(raw[:, :N_FEATURES]), 0.0, raw[:, :N_FEATURES])
    col = RAW_INDEX
    kbps = out[:, col["probe_bitrate_kbps"]]
    fps = out[:, col["fps"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        avg_frame_bytes = np.where(fps > 0, kbps * 1000.0 / 8.0 / fps, 0.0)
    for name, factor in (
        ("probe_i_frame_avg_bytes", I_FRAME_FACTOR),
        ("probe_p_frame_avg_bytes", P_FRAME_FACTOR),
        ("probe_b_frame_avg_bytes", B_FRAME_FACTOR),
    ):
        i = col[name]
        out[:, i] = np.where(np.isnan(raw[:, i]), factor * avg_frame_bytes, raw[:, i])
    shot = col["shot_length_frames"]
    duration = np.nan_to_num(raw[:, col["duration_s"]], nan=0.0)
    standin = np.maximum(1.0, np.round(fps * duration))
    out[:, shot] = np.where(np.isnan(raw[:, shot]), standin, raw[:, shot])
    return out.astype(np.float32)
