"""The harness's own probe measurements per clip: held-out picks judged with what it really feeds.

The harness probe-encodes a shot at the codec's probe quality with a fast preset and feeds that
probe's bitrate and I/P/B frame sizes (0 for a frame type the probe did not code). A corpus
usually holds other encodes, so training derives probe inputs along its ladders
(``trainer.ingest.probes``). Where someone ran the harness's probe on the corpus's clips, this
file of JSON lines says what it measured, one line per clip and encoder::

    {"src": "foreman_cif", "encoder": "libx264", "probe_preset": "ultrafast", "probe_crf": 28,
     "probe_bitrate_kbps": 412.7, "probe_i_frame_avg_bytes": 9381.0, "probe_p_frame_avg_bytes": 2110.4,
     "probe_b_frame_avg_bytes": null}

A ``probe_bitrate_kbps`` of 0 is what the published harness really sends (its probe encodes to
``-f null``, where ffmpeg prints ``bitrate=N/A``: issue #40): it means "not measured". Such a probe is
used, counted in the log line, and its bitrate recovered from its frame sizes wherever a model is fed
(``trainer.core.probe_recovery``, the step the shipped ONNX graph takes itself).

One probe stands for every row of its clip and encoder, whatever their resolution (the harness
probes the shot it is given). A probe whose ``probe_crf`` or ``probe_preset`` is not what the
codec's models are trained for answers another question: it is not used, and the log says so.

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
from typing import TypeGuard

import numpy as np

from trainer.core.codecs import UnknownCodecError, require_supported
from trainer.core.features import FEATURE_NAMES
from trainer.core.probe_recovery import recover_probe_bitrate

PROBE_COLUMNS = ("probe_bitrate_kbps", "probe_i_frame_avg_bytes", "probe_p_frame_avg_bytes", "probe_b_frame_avg_bytes")
_PROBE_INDEX = [FEATURE_NAMES.index(name) for name in PROBE_COLUMNS]


class HarnessProbeError(ValueError):
    """A harness probe file that cannot be used: the message names the file, line and reason."""


@dataclass(frozen=True)
class HarnessProbe:
    values: tuple[float, float, float, float]  # PROBE_COLUMNS, as the harness feeds them
    probe_crf: float | None  # the quality the probe ran at, when the file says
    probe_preset: str | None  # the preset it ran with, when the file says


@dataclass(frozen=True)
class HarnessProbes:
    files: tuple[str, ...]
    by_clip: dict[tuple[str, str], HarnessProbe]  # (codec, src) -> probe

    @property
    def n_unmeasured(self) -> int:
        """Probes that sent 0 kbps ("not measured", as the published harness does)."""
        return sum(1 for probe in self.by_clip.values() if probe.values[0] <= 0)

    def for_codec(self, codec: str, sources: np.ndarray, probe_quality: float, probe_preset: str) -> HarnessFeatures:
        """Each row's probe inputs as the harness measured its clip, where that probe ran at the
        ``probe_quality`` and ``probe_preset`` the codec's models are trained for (NaN elsewhere)."""
        names, row_clip = np.unique(np.asarray(sources, dtype=str), return_inverse=True)
        per_clip = np.full((names.size, len(PROBE_COLUMNS)), np.nan, dtype=np.float32)
        mismatched = []
        for k, src in enumerate(names.tolist()):
            probe = self.by_clip.get((codec, src))
            if probe is None:
                continue
            if (probe.probe_crf is not None and probe.probe_crf != probe_quality) or (
                    probe.probe_preset is not None and probe.probe_preset.lower() != probe_preset.lower()):
                mismatched.append(src)
                continue
            per_clip[k] = probe.values
        unmeasured = int(np.sum(per_clip[:, 0] <= 0))
        return HarnessFeatures(per_clip[row_clip.reshape(-1)], names.size, probe_quality, probe_preset,
                               tuple(mismatched), unmeasured)

    def as_explicit(self, raw: np.ndarray, sources: np.ndarray, codec: str, probe_quality: float,
                    probe_preset: str) -> np.ndarray:
        """``raw`` rows (RAW_COLUMNS) of one codec with their clip's probe as explicit ``probe_*`` columns,
        the real measurement training then uses instead of one derived along a ladder
        (``--train-on-harness-probes``); a row's own explicit probe wins. A probe that sent 0 kbps is not
        trained on (its rows keep the inputs derived along their ladder): training takes measurements only."""
        probe = self.for_codec(codec, sources, probe_quality, probe_preset).probe
        takes = probed_rows(probe) & np.isnan(raw[:, _PROBE_INDEX[0]]) & ~(probe[:, 0] <= 0)
        out = np.array(raw, dtype=np.float64, copy=True)
        out[np.ix_(takes, _PROBE_INDEX)] = probe[takes]
        return out


@dataclass(frozen=True)
class HarnessFeatures:
    """The harness's probe per row of a codec's table (only the four probe inputs, to keep tasks small)."""

    probe: np.ndarray  # float32 [n, 4] in PROBE_COLUMNS order; NaN where the row's clip has no usable probe
    n_clips: int  # distinct clips in the table
    probe_quality: float  # the probe the codec's models are trained for, which a usable probe matches
    probe_preset: str
    mismatched: tuple[str, ...] = ()  # clips probed at another quality or preset than the models assume: not used
    unmeasured: int = 0  # usable clips whose probe sent 0 kbps ("not measured"): recovered from frame sizes

    @property
    def rows(self) -> np.ndarray:
        """bool [n]: the row's clip has a usable harness probe."""
        return probed_rows(self.probe)

    def describe(self, sources: np.ndarray) -> str:
        """One log line: how many clips the harness probed, and which probes could not be used."""
        probed = np.unique(np.asarray(sources, dtype=str)[self.rows]).size
        text = (f"{probed} of {self.n_clips} clips have a harness probe at quality {self.probe_quality:g}, preset "
                f"{self.probe_preset}: their held-out picks are judged again with it (crf_pick_harness_probe)")
        if self.unmeasured:
            text += (f"; {self.unmeasured} sent 0 kbps (not measured, as the published harness does): their bitrate "
                     "is recovered from the probe's frame sizes, as the shipped graph does")
        if self.mismatched:
            text += (f"; {len(self.mismatched)} probed at another quality or preset, not used: "
                     + ", ".join(self.mismatched[:8]) + (" ..." if len(self.mismatched) > 8 else ""))
        return text


def probed_rows(probe: np.ndarray) -> np.ndarray:
    """bool [n] of a HarnessFeatures.probe array (or rows of it): the rows that have a usable probe."""
    return ~np.isnan(probe[:, 0])


def with_probe(features: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """``features`` rows with their probe inputs replaced by ``probe`` (the same rows of HarnessFeatures.probe);
    a probe bitrate of 0 ("not measured") recovered from the frame sizes, as the shipped graph recovers it."""
    out = np.array(features, dtype=np.float32, copy=True)
    out[:, _PROBE_INDEX] = probe
    return recover_probe_bitrate(out)


def served_features(features: np.ndarray, probe: np.ndarray | None) -> np.ndarray:
    """Rows as the harness serves them to the model: its own probe where it probed the clip, the rows' own
    probe inputs elsewhere (``probe`` None: the rows as they are)."""
    if probe is None:
        return np.asarray(features, dtype=np.float32)
    rows = probed_rows(probe)
    served = np.array(features, dtype=np.float32, copy=True)
    served[rows] = with_probe(served[rows], probe[rows])
    return served


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
        if not _number(value) or value < 0:  # a bitrate of 0: "not measured" (the published harness's -f null probe)
            raise HarnessProbeError(f"{here}: {name} must be a non-negative number, got {value!r}")
        values.append(float(value))
    crf, preset = row.get("probe_crf"), row.get("probe_preset")
    if crf is not None and not _number(crf):
        raise HarnessProbeError(f"{here}: probe_crf must be a number, got {crf!r}")
    if preset is not None and (isinstance(preset, bool) or not isinstance(preset, str | int)):
        raise HarnessProbeError(f"{here}: probe_preset must be a string, got {preset!r}")
    return (codec, src), HarnessProbe((values[0], values[1], values[2], values[3]), None if crf is None else float(crf),
                                      None if preset is None else str(preset))


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
