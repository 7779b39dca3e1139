"""The 14 codec adapters the encoder harness knows; the only names that ever reach a path."""

from __future__ import annotations

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
