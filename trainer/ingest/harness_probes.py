"""The harness's own probe measurements per clip: held-out picks judged with what it really feeds.

The harness probe-encodes a shot at the codec's probe quality with a fast preset and feeds that
probe's bitrate and I/P/B frame sizes (0 for a frame type the probe did not code). A corpus
usually holds other encodes, so training derives probe inputs along its ladders
(``trainer.ingest.probes``). Where someone ran the harness's probe on the corpus's clips, this
file of JSON lines says what it measured, one line per clip and encoder::

    {"src": "foreman_cif", "encoder": "libx264", "probe_crf": 28, "probe_bitrate_kbps": 412.7,
     "probe_i_frame_avg_bytes": 9381.0, "probe_p_frame_avg_bytes": 2110.4, "probe_b_frame_avg_bytes": null}

It never trains a model. A fold's held-out ladders are judged a second time with these inputs in
place of the derived ones (``crf_pick_harness_probe``), the question the shipped model is asked:
a model trained on inputs the probe does not reproduce scores well on ``crf_pick`` and badly here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.core.codecs import UnknownCodecError, require_supported
from trainer.core.features import FEATURE_NAMES

PROBE_COLUMNS = ("probe_bitrate_kbps", "probe_i_frame_avg_bytes", "probe_p_frame_avg_bytes", "probe_b_frame_avg_bytes")
_PROBE_INDEX = [FEATURE_NAMES.index(name) for name in PROBE_COLUMNS]


class HarnessProbeError(ValueError):
    """A harness probe file that cannot be used: the message names the file, line and reason."""


@dataclass(frozen=True)
class HarnessProbe:
    values: tuple[float, float, float, float]  # PROBE_COLUMNS, as the harness feeds them
    probe_crf: float | None  # the quality the probe ran at, when the file says


@dataclass(frozen=True)
class HarnessProbes:
    files: tuple[str, ...]
    by_clip: dict[tuple[str, str], HarnessProbe]  # (codec, src) -> probe

    def for_codec(self, codec: str, sources: np.ndarray, features: np.ndarray,
                  probe_quality: float) -> HarnessFeatures:
        """``features`` with each row's probe inputs replaced by its clip's harness probe at ``probe_quality``."""
        out = np.array(features, dtype=np.float32, copy=True)
        rows = np.zeros(out.shape[0], dtype=bool)
        other_quality: set[str] = set()
        for src in np.unique(np.asarray(sources, dtype=str)).tolist():
            probe = self.by_clip.get((codec, src))
            if probe is None:
                continue
            if probe.probe_crf is not None and probe.probe_crf != probe_quality:
                other_quality.add(src)
                continue
            mine = np.asarray(sources, dtype=str) == src
            out[np.ix_(mine, _PROBE_INDEX)] = probe.values
            rows |= mine
        return HarnessFeatures(out, rows, tuple(sorted(other_quality)))


@dataclass(frozen=True)
class HarnessFeatures:
    """A codec's inputs as the harness's probe gives them, on the rows whose clip it probed."""

    features: np.ndarray  # float32 [n, 14]
    rows: np.ndarray  # bool [n]: the clip has a harness probe at the probe quality in use
    other_quality: tuple[str, ...] = ()  # clips probed at another quality than the one in use: not used

    def describe(self, sources: np.ndarray, probe_quality: float | None) -> str:
        """One log line: how many clips the harness probed, and which probes could not be used."""
        probed = np.unique(np.asarray(sources, dtype=str)[self.rows]).size
        text = (f"{probed} of {np.unique(np.asarray(sources, dtype=str)).size} clips have a harness probe at quality "
                f"{probe_quality:g}: their held-out picks are judged again with it (crf_pick_harness_probe)")
        if self.other_quality:
            text += (f"; {len(self.other_quality)} probed at another quality, not used: "
                     + ", ".join(self.other_quality[:8]) + (" ..." if len(self.other_quality) > 8 else ""))
        return text


def load_harness_probes(paths: Sequence[Path]) -> HarnessProbes:
    """Every line of every file, strictly: one bad line is an error naming it, never a silent skip."""
    by_clip: dict[tuple[str, str], HarnessProbe] = {}
    where: dict[tuple[str, str], str] = {}
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise HarnessProbeError(f"{path}: cannot read: {exc}") from exc
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            here = f"{path}:{number}"
            key, probe = _parse(line, here)
            if key in by_clip:
                raise HarnessProbeError(f"{here}: a second probe of {key[1]!r} for {key[0]} (first at {where[key]})")
            by_clip[key], where[key] = probe, here
    if not by_clip:
        raise HarnessProbeError(f"{', '.join(map(str, paths))}: no probe lines")
    return HarnessProbes(tuple(str(p) for p in paths), by_clip)


def _parse(line: str, here: str) -> tuple[tuple[str, str], HarnessProbe]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise HarnessProbeError(f"{here}: not JSON ({exc.msg})") from exc
    if not isinstance(row, dict):
        raise HarnessProbeError(f"{here}: not a JSON object")
    src, encoder = row.get("src"), row.get("encoder")
    if not isinstance(src, str) or not src:
        raise HarnessProbeError(f"{here}: src must be a non-empty string")
    if not isinstance(encoder, str):
        raise HarnessProbeError(f"{here}: encoder must be a string")
    try:
        codec = require_supported(encoder)
    except UnknownCodecError as exc:
        raise HarnessProbeError(f"{here}: {exc}") from exc
    values = []
    for name in PROBE_COLUMNS:
        value = row.get(name)
        if value is None and name != "probe_bitrate_kbps":
            values.append(0.0)  # the probe coded no such frame: the harness feeds 0
            continue
        if not _number(value) or value < 0 or (name == "probe_bitrate_kbps" and value <= 0):
            kind = "positive" if name == "probe_bitrate_kbps" else "non-negative"
            raise HarnessProbeError(f"{here}: {name} must be a {kind} number, got {value!r}")
        values.append(float(value))
    crf = row.get("probe_crf")
    if crf is not None and not _number(crf):
        raise HarnessProbeError(f"{here}: probe_crf must be a number, got {crf!r}")
    return (codec, src), HarnessProbe((values[0], values[1], values[2], values[3]), None if crf is None else float(crf))


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
