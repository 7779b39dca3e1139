"""Where model files live. Codec names are checked against the 14 before any path is built."""

from __future__ import annotations

import hashlib
from pathlib import Path

from trainer.core.codecs import require_supported


def model_path(model_dir: Path, codec: str) -> Path:
    return Path(model_dir) / f"predictor_{require_supported(codec)}.onnx"


def card_path(model_dir: Path, codec: str) -> Path:
    return Path(model_dir) / f"predictor_{require_supported(codec)}_card.md"


def calibration_path(model_dir: Path, codec: str) -> Path:
    """The split-conformal sidecar the harness reads (``predict --calibration-sidecar``)."""
    return Path(model_dir) / f"predictor_{require_supported(codec)}_calibration.json"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str | None:
    try:
        return sha256_bytes(Path(path).read_bytes())
    except FileNotFoundError:
        return None
