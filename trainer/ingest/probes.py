"""Probe-consistent inputs: each row gets the probe measurements the harness would feed.

The harness probe-encodes a shot once, at the codec's probe quality with a fast preset, and
feeds that probe's bitrate and I/P/B frame sizes for every quality it tries. A corpus row,
though, records its own encode. Rows that differ only in quality (same source, resolution,
frame rate and, where rows name one, preset) form a *ladder*. Where a source, resolution and
frame rate has a ladder at the harness's probe preset with two or more qualities, or an encode
at the probe preset and quality itself, every row of every ladder there that has a quality takes
its probe from that ladder: that is the encode the harness would really measure. Otherwise a
ladder with two or more qualities gives its own rows its values at the probe quality: the row
at that quality, else log-linear interpolation in quality between the nearest rows (linear
extrapolation from the two nearest beyond the ends).
Frame sizes are the exception: how a preset splits its bits into I, P and B frames is its own
(x264 ``ultrafast`` codes no B frames at all, so the harness feeds 0 there), so a ladder that names
a preset other than the probe preset lends its rows its bitrate at the probe quality but not its
frame sizes. Those stay absent (no weight where no row has real sizes, else the bitrate stand-in
every row without sizes gets) and are counted as withheld: a model
trained on a ``medium`` ladder's B-frame sizes and fed the probe's 0 picked CRF 3.4 steps off on
the real sweep, against 2.3 on the inputs it was trained on.
A row's explicit ``probe_*`` values are real probe measurements and always win. Rows with no
quality, or alone in their ladder, keep their own encode's bitrate (bitrate ladders like NFLX).
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
FRAME_SIZE_PROBES = frozenset(_COL[probe] for probe, _own in PROBE_FROM_ENCODE[1:])
LADDER_COLUMNS = ("width", "height", "fps")


@dataclass(frozen=True)
class ProbeCounts:
    """Rows by where their probe bitrate came from (the four kinds add up to the rows)."""

    from_ladder: int = 0  # their own ladder at the probe quality
    from_probe_preset: int = 0  # the probe-preset ladder of their source, resolution and frame rate
    explicit: int = 0
    own_encode: int = 0
    # Apart from the four: rows whose own ladder names another preset than the probe's, so its frame
    # sizes were not lent to them (that preset's I/P/B split is not what the probe measures), and rows
    # that took frame sizes from their own ladder although it names no preset (taken as the probe's).
    sizes_withheld: int = 0
    sizes_unverified: int = 0

    def __add__(self, other: ProbeCounts) -> ProbeCounts:
        return ProbeCounts(self.from_ladder + other.from_ladder, self.from_probe_preset + other.from_probe_preset,
                           self.explicit + other.explicit, self.own_encode + other.own_encode,
                           self.sizes_withheld + other.sizes_withheld, self.sizes_unverified + other.sizes_unverified)

    def as_report(self) -> dict[str, int]:
        return {"from_ladder": self.from_ladder, "from_probe_preset": self.from_probe_preset,
                "explicit": self.explicit, "own_encode": self.own_encode, "sizes_withheld": self.sizes_withheld,
                "sizes_unverified": self.sizes_unverified}

    def frame_size_notes(self, probe_preset: str) -> list[str]:
        """Where probe frame sizes were withheld, or lent on trust, in words for the run log and the card: a
        model fed another preset's I/P/B split picks far off in the harness (docs/models.md "Frame sizes only from
        the probe's preset")."""
        notes = []
        if self.sizes_withheld:
            notes.append(f"probe frame sizes withheld from {self.sizes_withheld} rows: their ladder names another "
                         f"preset than the probe preset {probe_preset} (bitrate still lent)")
        if self.sizes_unverified:
            notes.append(f"probe frame sizes of {self.sizes_unverified} rows come from ladders that name no preset, "
                         f"taken as {probe_preset}'s; if those encodes used another preset, give the rows a "
                         "\"preset\" field so their frame sizes are withheld")
        return notes


def _group_ids(raw: np.ndarray, names: list[np.ndarray]) -> np.ndarray:
    """One id per distinct (names..., width, height, fps); an absent number keys as -1."""
    if raw.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    name_ids = [np.unique(np.asarray(n, dtype=str), return_inverse=True)[1].reshape(-1) for n in names]
    key = np.column_stack([*(i.astype(np.float64) for i in name_ids), *(raw[:, _COL[c]] for c in LADDER_COLUMNS)])
    key = np.where(np.isnan(key), -1.0, key)
    _, ids = np.unique(key, axis=0, return_inverse=True)
    return ids.reshape(-1)


def site_ids(raw: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """One id per source at one resolution and frame rate: the ladders one probe can stand for."""
    return _group_ids(raw, [sources])


def ladder_ids(raw: np.ndarray, sources: np.ndarray, presets: np.ndarray | None = None) -> np.ndarray:
    """One id per ladder: rows of one source at one resolution, frame rate and preset."""
    return _group_ids(raw, [sources] if presets is None else [sources, presets])


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


def _ladder_probe(raw: np.ndarray, rows: np.ndarray, probe_quality: float, exact: bool = False) -> dict[int, float]:
    """A ladder's encode values at the probe quality, per probe column; empty below two qualities
    unless ``exact`` and the ladder has an encode at the probe quality itself (a real probe)."""
    quality = raw[:, _COL["crf"]]
    rated = rows[~np.isnan(quality[rows])]
    if np.unique(quality[rated]).size < 2 and not (exact and np.any(quality[rated] == probe_quality)):
        return {}  # no quality knob, or one point: nothing to interpolate along
    values = {}
    for probe, own in PROBE_FROM_ENCODE:
        have = rated[raw[rated, _COL[own]] > 0]
        if np.unique(quality[have]).size >= 2 or (exact and np.any(quality[have] == probe_quality)):
            values[_COL[probe]] = _log_linear_at(quality[have], raw[have, _COL[own]], probe_quality)
    return values


def with_probe_inputs(raw: np.ndarray, sources: np.ndarray, probe_quality: float, presets: np.ndarray | None = None,
                      probe_preset: str | None = None) -> tuple[np.ndarray, ProbeCounts]:
    """``raw`` with the ``probe_*`` columns filled in along each ladder; the counts by origin.

    ``presets`` (one per row, "" for none) split ladders; ``probe_preset`` is the harness's probe
    preset, whose ladder stands for every ladder of its source, resolution and frame rate.
    """
    out = np.array(raw, dtype=np.float64, copy=True)
    explicit = ~np.isnan(raw[:, _COL["probe_bitrate_kbps"]])
    origin = np.zeros(raw.shape[0], dtype=np.int8)  # 0 own encode, 1 own ladder, 2 probe-preset ladder
    withheld = np.zeros(raw.shape[0], dtype=bool)
    unverified = np.zeros(raw.shape[0], dtype=bool)
    ids = ladder_ids(raw, sources, presets)
    order = np.argsort(ids, kind="stable")
    ladders = np.split(order, np.flatnonzero(np.diff(ids[order])) + 1) if order.size else []
    at_probe_preset = [presets is not None and _same_preset(presets[rows[0]], probe_preset) for rows in ladders]
    probes = [_ladder_probe(raw, rows, probe_quality, exact) for rows, exact in zip(ladders, at_probe_preset,
                                                                                     strict=True)]
    sites = site_ids(raw, sources)
    donors = {int(sites[rows[0]]): k for k, rows in enumerate(ladders)
              if at_probe_preset[k] and _COL["probe_bitrate_kbps"] in probes[k]}
    bitrate = _COL["probe_bitrate_kbps"]
    for k, rows in enumerate(ladders):
        donor = donors.get(int(sites[rows[0]]))
        if donor is None:
            values, receivers, kind = probes[k], rows, 1
            named = "" if presets is None else str(presets[rows[0]])
            if named and probe_preset and not _same_preset(named, probe_preset):
                withheld[rows] = _take_a_frame_size(raw, rows, values) & ~explicit[rows]
                values = {c: v for c, v in values.items() if c not in FRAME_SIZE_PROBES}
            elif not named:
                unverified[rows] = _take_a_frame_size(raw, rows, values) & ~explicit[rows]
        else:
            values, kind = probes[donor], 2
            receivers = rows[~np.isnan(raw[rows, _COL["crf"]])]
        derived_only = receivers[~explicit[receivers]]  # a real probe's row takes no other encode's frame sizes
        for column, value in values.items():
            takers = receivers if column == bitrate else derived_only
            missing = takers[np.isnan(raw[takers, column])]
            out[missing, column] = value
            if column == bitrate:
                origin[missing] = kind
    own = np.isnan(out[:, bitrate])
    out[own, bitrate] = raw[own, _COL["bitrate_kbps"]]
    counts = ProbeCounts(int((origin == 1).sum()), int((origin == 2).sum()), int(explicit.sum()),
                         int((~explicit & (origin == 0)).sum()), int(withheld.sum()), int(unverified.sum()))
    return out, counts


def _same_preset(named: object, probe_preset: str | None) -> bool:
    """Preset names compare without case ("Medium" is medium). One named by number (SVT-AV1, libaom)
    never matches the harness's named probe preset: which number that maps to is the harness's business."""
    return bool(probe_preset) and str(named).strip().lower() == str(probe_preset).lower()


def _take_a_frame_size(raw: np.ndarray, rows: np.ndarray, values: dict[int, float]) -> np.ndarray:
    """Per row of a ladder, whether ``values`` would give it a frame size it does not carry itself."""
    sizes = [c for c in values if c in FRAME_SIZE_PROBES]
    return np.isnan(raw[np.ix_(rows, sizes)]).any(axis=1) if sizes else np.zeros(rows.size, dtype=bool)


def observed_inputs(raw_with_probes: np.ndarray) -> np.ndarray:
    """Per model input, whether any row measured it (stand-ins computed from other inputs do not count)."""
    measured = ~np.isnan(raw_with_probes[:, : len(FEATURE_NAMES)])
    observed = measured.any(axis=0) if raw_with_probes.shape[0] else np.zeros(len(FEATURE_NAMES), dtype=bool)
    shot = _COL["shot_length_frames"]
    observed[shot] |= bool((~np.isnan(raw_with_probes[:, _COL["duration_s"]])).any())
    return observed
