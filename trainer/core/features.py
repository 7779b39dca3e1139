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
QUALITY_INPUT = FEATURE_NAMES.index("crf")  # the knob the harness searches over (CRF, CQ or QP)

# Inputs whose scale is multiplicative (sizes, rates, counts): the model sees log(max(x, LOG_FLOOR)).
LOG_INPUTS: tuple[str, ...] = (
    "probe_bitrate_kbps",
    "probe_i_frame_avg_bytes",
    "probe_p_frame_avg_bytes",
    "probe_b_frame_avg_bytes",
    "shot_length_frames",
    "width",
    "height",
)
LOG_FLOOR = 1.0  # 1 kbps, 1 byte, 1 frame, 1 pixel: below any real encode, and log(0) stays finite
LOG_MASK = np.array([name in LOG_INPUTS for name in FEATURE_NAMES])

# Raw columns a corpus row may carry: the 14 features under their runtime names (``probe_*`` ones
# only when the row holds a real probe measurement), duration (for the shot-length stand-in), and
# the encode's OWN bitrate and frame sizes, from which probe inputs are derived along its ladder.
ENCODE_COLUMNS: tuple[str, ...] = ("bitrate_kbps", "i_frame_avg_bytes", "p_frame_avg_bytes", "b_frame_avg_bytes")
RAW_COLUMNS: tuple[str, ...] = FEATURE_NAMES + ("duration_s",) + ENCODE_COLUMNS
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
    return out.astype(np.float32, order="C")  # row-major whatever raw's layout: what training has always seen


# Physical bounds of every raw column (inclusive low, inclusive high; "open" lows are handled by
# LOW_EXCLUSIVE). A row outside them cannot describe a real encode, and one such value (width 1e20,
# bitrate 1e308) would otherwise turn a whole codec's training into NaN. Wide enough for any real
# encoder: CRF/CQ/QP up to 255 (AV1 hardware QP), 16K frames, 1000 fps, 10 Gbit/s.
INPUT_BOUNDS: dict[str, tuple[float, float]] = {
    "crf": (0.0, 255.0),
    "probe_bitrate_kbps": (0.0, 1e7),
    "probe_i_frame_avg_bytes": (0.0, 2.0**31),
    "probe_p_frame_avg_bytes": (0.0, 2.0**31),
    "probe_b_frame_avg_bytes": (0.0, 2.0**31),
    # Content statistics: some probes report them centred or signed, so only their size is bounded
    # (16-bit sample range); a variance is never negative.
    "saliency_mean": (-65535.0, 65535.0),
    "saliency_var": (0.0, 65535.0**2),
    "frame_diff_mean": (-65535.0, 65535.0),
    "y_avg": (-65535.0, 65535.0),
    "y_var": (0.0, 65535.0**2),
    "shot_length_frames": (0.0, 1e8),
    "fps": (1.0, 1000.0),  # below 1 fps, kbps / fps frame sizes run away (1e-40 fps: infinite in float32)
    "width": (16.0, 16384.0),  # no encoder makes a frame narrower than one 16-pixel macroblock
    "height": (16.0, 16384.0),
    "duration_s": (0.0, 1e6),
    "bitrate_kbps": (0.0, 1e7),
    "i_frame_avg_bytes": (0.0, 2.0**31),
    "p_frame_avg_bytes": (0.0, 2.0**31),
    "b_frame_avg_bytes": (0.0, 2.0**31),
}
LOW_EXCLUSIVE = frozenset({"probe_bitrate_kbps", "bitrate_kbps"})
assert set(INPUT_BOUNDS) == set(RAW_COLUMNS)
_LOW = np.array([INPUT_BOUNDS[c][0] for c in RAW_COLUMNS])
_HIGH = np.array([INPUT_BOUNDS[c][1] for c in RAW_COLUMNS])
_LOW_OPEN = np.array([c in LOW_EXCLUSIVE for c in RAW_COLUMNS])


def out_of_range(raw: np.ndarray) -> np.ndarray:
    """Per row, the index of the first raw column outside its physical bounds, or -1.

    Absent values (NaN) are fine: the projection fills them in from in-range columns.
    """
    raw = np.asarray(raw, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        present = ~np.isnan(raw)
        below = np.where(_LOW_OPEN, raw <= _LOW, raw < _LOW)
        bad = present & (below | (raw > _HIGH) | np.isinf(raw))
    first = np.argmax(bad, axis=1)
    return np.where(bad.any(axis=1), first, -1)


def describe_bound(column: int) -> str:
    name = RAW_COLUMNS[column]
    low, high = INPUT_BOUNDS[name]
    return f"{'(' if name in LOW_EXCLUSIVE else '['}{low:g}, {high:g}]"


def non_finite_derived(raw: np.ndarray) -> np.ndarray:
    """Per row, the index of the first model input that projects to a non-finite float32, or -1.

    The bounds above keep every derived input finite; this is the check that they do, on the
    values the model really receives (a future bound change cannot silently let inf through).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~np.isfinite(project_features(raw))
    first = np.argmax(bad, axis=1)
    return np.where(bad.any(axis=1), first, -1)
