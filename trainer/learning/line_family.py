"""The line family: which inputs a ridge-line candidate may use, fewest first (learning.line_model).

Kept free of torch so the process that plans and reports can name and order candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.core.features import FEATURE_NAMES, LOG_MASK, N_FEATURES

LINE_CANDIDATE = "line"
_COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}


def _direction(**weights: float) -> np.ndarray:
    vector = np.zeros(N_FEATURES)
    for name, weight in weights.items():
        vector[_COLUMN[name]] = weight
    return vector


# Directions in the (log-)inputs of a family line: log bits per pixel is log kbps - log(width x height x fps).
DIRECTIONS: dict[str, np.ndarray] = {
    "log_bpp": _direction(probe_bitrate_kbps=1.0, width=-1.0, height=-1.0, fps=-1.0),
    "log_height": _direction(height=1.0),
    "log_kbps": _direction(probe_bitrate_kbps=1.0),
    "log_fps": _direction(fps=1.0),
}


@dataclass(frozen=True)
class LineInputs:
    """One member of the line family: a ridge line on these directions, or (None) on every live input."""

    name: str
    directions: tuple[str, ...] | None
    description: str


LINE_FAMILY: tuple[LineInputs, ...] = (
    LineInputs("line-bpp", ("log_bpp",), "log bits per pixel"),
    LineInputs("line-bpp-height", ("log_bpp", "log_height"), "log bits per pixel and log height"),
    LineInputs("line-ladder", ("log_kbps", "log_bpp", "log_height", "log_fps"),
               "log kbps, log bits per pixel, log height and log frame rate (the report's baseline)"),
    LineInputs(LINE_CANDIDATE, None, "every live input"),
)
LINES = {member.name: member for member in LINE_FAMILY}
# Family lines see frame rate as log(fps): bits per pixel divides by it.
FAMILY_LOG_MASK = LOG_MASK | (np.arange(N_FEATURES) == _COLUMN["fps"])
