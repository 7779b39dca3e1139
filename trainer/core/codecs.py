"""The 14 codec adapters the encoder harness knows; the only names that ever reach a path."""

from __future__ import annotations

import math
from collections.abc import Mapping

SUPPORTED_CODECS: tuple[str, ...] = (
    "libx264",
    "libx265",
    "libsvtav1",
    "libaom-av1",
    "libvvenc",
    "h264_nvenc",
    "hevc_nvenc",
    "av1_nvenc",
    "h264_amf",
    "hevc_amf",
    "av1_amf",
    "h264_qsv",
    "hevc_qsv",
    "av1_qsv",
)

CODEC_INDEX: dict[str, int] = {name: i for i, name in enumerate(SUPPORTED_CODECS)}


class UnknownCodecError(ValueError):
    """A codec name outside the supported 14 was asked for."""


def require_supported(name: str) -> str:
    """Return ``name`` if it is one of the 14; otherwise raise with the valid list."""
    if name not in CODEC_INDEX:
        raise UnknownCodecError(
            f"unknown codec {name!r}; supported: {' '.join(SUPPORTED_CODECS)}"
        )
    return name


# How the encoder harness (pick_crf) uses a model of each codec: it probe-encodes a shot once at
# PROBE_QUALITY with PROBE_PRESET, holds the probe's measurements fixed and binary-searches the
# largest integer quality in QUALITY_RANGE whose prediction still meets the target.
PROBE_QUALITY: dict[str, float] = {
    "libx264": 28, "libx265": 28, "h264_nvenc": 28, "hevc_nvenc": 28, "av1_nvenc": 28,
    "h264_amf": 28, "hevc_amf": 28, "av1_amf": 28,
    "libsvtav1": 35, "libaom-av1": 35, "libvvenc": 32,
    "h264_qsv": 23, "hevc_qsv": 23, "av1_qsv": 23,
}
PROBE_PRESET: dict[str, str] = {
    "libx264": "ultrafast", "libx265": "ultrafast", "libaom-av1": "ultrafast",
    "h264_nvenc": "ultrafast", "hevc_nvenc": "ultrafast", "av1_nvenc": "ultrafast",
    "h264_amf": "ultrafast", "hevc_amf": "ultrafast", "av1_amf": "ultrafast",
    "libsvtav1": "veryfast", "h264_qsv": "veryfast", "hevc_qsv": "veryfast", "av1_qsv": "veryfast",
    "libvvenc": "faster",
}
# The harness's analytical curve, what it picks with when it has no model (learning.harness_curve):
# codec -> (a, b, c, d, crf_ref), exactly as it ships them (predictor.py ``_DEFAULT_COEFFS``). The generated
# corpora and the stubs follow the same curve (ingest.synthetic).
HARNESS_CURVE_COEFFS: dict[str, tuple[float, float, float, float, float]] = {
    "libx264": (95.0, 1.20, 0.012, 1.5, 23.0),
    "libx265": (96.0, 1.10, 0.010, 1.6, 28.0),
    "libsvtav1": (94.0, 0.95, 0.009, 1.4, 35.0),
    "libaom-av1": (94.0, 0.90, 0.009, 1.4, 35.0),
    "libvvenc": (95.0, 0.85, 0.008, 1.5, 32.0),
    "h264_nvenc": (93.0, 1.30, 0.014, 1.4, 23.0),
    "hevc_nvenc": (94.0, 1.20, 0.012, 1.5, 23.0),
    "av1_nvenc": (93.0, 1.10, 0.011, 1.5, 23.0),
    "h264_amf": (92.0, 1.40, 0.015, 1.3, 23.0),
    "hevc_amf": (93.0, 1.30, 0.013, 1.4, 23.0),
    "av1_amf": (92.0, 1.20, 0.012, 1.4, 23.0),
    "h264_qsv": (93.0, 1.30, 0.013, 1.4, 23.0),
    "hevc_qsv": (94.0, 1.20, 0.012, 1.5, 23.0),
    "av1_qsv": (93.0, 1.10, 0.011, 1.5, 23.0),
}
QUALITY_RANGE: dict[str, tuple[int, int]] = {
    "libx264": (0, 51), "libx265": (15, 40), "libsvtav1": (20, 50), "libvvenc": (17, 50), "libaom-av1": (0, 63),
    "h264_nvenc": (15, 40), "hevc_nvenc": (15, 40), "av1_nvenc": (15, 40),
    "h264_amf": (15, 40), "hevc_amf": (15, 40), "av1_amf": (15, 40),
    "h264_qsv": (1, 51), "hevc_qsv": (1, 51), "av1_qsv": (1, 51),
}
assert set(PROBE_QUALITY) == set(PROBE_PRESET) == set(QUALITY_RANGE) == set(SUPPORTED_CODECS)
assert set(HARNESS_CURVE_COEFFS) == set(SUPPORTED_CODECS)


def parse_probe_quality(spec: str) -> tuple[str, float]:
    """``CODEC=Q`` -> (codec, Q); ValueError naming what is wrong (codec, number, or range)."""
    codec, sep, value = spec.strip().partition("=")
    if not sep or not codec or not value:
        raise ValueError(f"{spec!r} is not CODEC=Q (e.g. libx264=26)")
    require_supported(codec)
    try:
        quality = float(value)
    except ValueError:
        quality = math.nan
    if not math.isfinite(quality):
        raise ValueError(f"{spec!r}: {value!r} is not a number")
    low, high = QUALITY_RANGE[codec]
    if not low <= quality <= high:
        raise ValueError(f"{spec!r}: {value} is outside {codec}'s quality range {low}..{high}")
    return codec, int(quality) if quality.is_integer() else quality


def probe_quality_of(codec: str, overrides: Mapping[str, float] | None = None) -> float:
    """The probe quality a model of ``codec`` is trained for: the operator's override, else the harness's."""
    return (overrides or {}).get(codec, PROBE_QUALITY[codec])
