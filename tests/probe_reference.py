"""The per-ladder probe derivation as it was before it was vectorised (commit b4e934c), kept as the reference
``tests/test_probe_vectorised.py`` holds the vectorised one to, value for value: one Python call per ladder,
string ``np.unique`` keys. Not used by the trainer."""

from __future__ import annotations

import numpy as np

from trainer.core.features import RAW_INDEX
from trainer.ingest.probes import PROBE_FROM_ENCODE, ProbeCounts

_COL = RAW_INDEX
FRAME_SIZE_PROBES = frozenset(_COL[probe] for probe, _own in PROBE_FROM_ENCODE[1:])
LADDER_COLUMNS = ("width", "height", "fps")


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


def reference_probe_inputs(raw: np.ndarray, sources: np.ndarray, probe_quality: float,
                           presets: np.ndarray | None = None,
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
