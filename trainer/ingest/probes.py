"""Probe-consistent inputs: each row gets the probe measurements the harness would feed.

The harness probe-encodes a shot once, at the codec's probe quality, and feeds that probe's
bitrate and I/P/B frame sizes for every quality it tries. A corpus row, though, records its own
encode. Rows that differ only in quality (same source, resolution and frame rate) form a
*ladder*; every row of a ladder with two or more qualities gets the ladder's bitrate and frame
sizes at the probe quality: the row at that quality, else log-linear interpolation in quality
between the nearest rows (linear extrapolation from the two nearest beyond the ladder's ends).
A row's explicit ``probe_*`` values are real probe measurements and always win. Rows with no
quality, or alone in their ladder, keep their own encode's bitrate (bitrate ladders like NFLX).

Presets are not part of the ladder key yet: a corpus mixing presets for one source averages them
per quality (in the log domain).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.core.features import FEATURE_NAMES, RAW_INDEX

_COL = RAW_INDEX
PROBE_FROM_ENCODE = (
    ("probe_bitrate_kbps", "bitrate_kbps"),
    ("probe_i_frame_avg_bytes", "i_frame_avg_bytes"),
    ("probe_p_frame_avg_bytes", "p_frame_avg_bytes"),
    ("probe_b_frame_avg_bytes", "b_frame_avg_bytes"),
)
LADDER_COLUMNS = ("width", "height", "fps")


@dataclass(frozen=True)
class ProbeCounts:
    """Rows by where their probe bitrate came from."""

    from_ladder: int = 0
    explicit: int = 0
    own_encode: int = 0

    def __add__(self, other: ProbeCounts) -> ProbeCounts:
        return ProbeCounts(self.from_ladder + other.from_ladder, self.explicit + other.explicit,
                           self.own_encode + other.own_encode)

    def as_report(self) -> dict[str, int]:
        return {"from_ladder": self.from_ladder, "explicit": self.explicit, "own_encode": self.own_encode}


def ladder_ids(raw: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """One id per ladder: rows of one source at one resolution and frame rate (absent = its own value)."""
    if raw.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    _, source_id = np.unique(np.asarray(sources, dtype=str), return_inverse=True)
    key = np.column_stack([source_id.astype(np.float64), *(raw[:, _COL[c]] for c in LADDER_COLUMNS)])
    key = np.where(np.isnan(key), -1.0, key)
    _, ids = np.unique(key, axis=0, return_inverse=True)
    return ids.reshape(-1)


def _log_linear_at(quality: np.ndarray, values: np.ndarray, at: float) -> float:
    """log(value) interpolated linearly in quality at ``at``; duplicate qualities are averaged first."""
    qualities, inverse = np.unique(quality, return_inverse=True)
    logs = np.bincount(inverse, weights=np.log(values)) / np.bincount(inverse)
    if qualities.size == 1:
        return float(np.exp(logs[0]))
    if at <= qualities[0]:
        i, j = 0, 1
    elif at >= qualities[-1]:
        i, j = qualities.size - 2, qualities.size - 1
    else:
        return float(np.exp(np.interp(at, qualities, logs)))
    slope = (logs[j] - logs[i]) / (qualities[j] - qualities[i])
    return float(np.exp(logs[i] + slope * (at - qualities[i])))


def with_probe_inputs(raw: np.ndarray, sources: np.ndarray, probe_quality: float) -> tuple[np.ndarray, ProbeCounts]:
    """``raw`` with the ``probe_*`` columns filled in along each ladder; the counts by origin."""
    out = np.array(raw, dtype=np.float64, copy=True)
    explicit = ~np.isnan(raw[:, _COL["probe_bitrate_kbps"]])
    from_ladder = np.zeros(raw.shape[0], dtype=bool)
    quality = raw[:, _COL["crf"]]
    ids = ladder_ids(raw, sources)
    order = np.argsort(ids, kind="stable")
    bounds = np.flatnonzero(np.diff(ids[order])) + 1
    for rows in np.split(order, bounds) if order.size else []:
        rated = rows[~np.isnan(quality[rows])]
        if np.unique(quality[rated]).size < 2:
            continue  # no quality knob, or one point: nothing to interpolate along
        for probe, own in PROBE_FROM_ENCODE:
            have = rated[raw[rated, _COL[own]] > 0]
            if np.unique(quality[have]).size < 2:
                continue
            value = _log_linear_at(quality[have], raw[have, _COL[own]], probe_quality)
            missing = rows[np.isnan(raw[rows, _COL[probe]])]
            out[missing, _COL[probe]] = value
            if probe == "probe_bitrate_kbps":
                from_ladder[missing] = True
    own = np.isnan(out[:, _COL["probe_bitrate_kbps"]])
    out[own, _COL["probe_bitrate_kbps"]] = raw[own, _COL["bitrate_kbps"]]
    counts = ProbeCounts(int(from_ladder.sum()), int(explicit.sum()), int((~explicit & ~from_ladder).sum()))
    return out, counts


def observed_inputs(raw_with_probes: np.ndarray) -> np.ndarray:
    """Per model input, whether any row measured it (stand-ins computed from other inputs do not count)."""
    measured = ~np.isnan(raw_with_probes[:, : len(FEATURE_NAMES)])
    observed = measured.any(axis=0) if raw_with_probes.shape[0] else np.zeros(len(FEATURE_NAMES), dtype=bool)
    shot = _COL["shot_length_frames"]
    observed[shot] |= bool((~np.isnan(raw_with_probes[:, _COL["duration_s"]])).any())
    return observed
