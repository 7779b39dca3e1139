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
from trainer.ingest import codes
from trainer.ingest.ladders import ladder_keys, values_at

_COL = RAW_INDEX
PROBE_FROM_ENCODE = (
    ("probe_bitrate_kbps", "bitrate_kbps"),
    ("probe_i_frame_avg_bytes", "i_frame_avg_bytes"),
    ("probe_p_frame_avg_bytes", "p_frame_avg_bytes"),
    ("probe_b_frame_avg_bytes", "b_frame_avg_bytes"),
)


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


def ladder_ids(raw: np.ndarray, sources: np.ndarray, presets: np.ndarray | None = None) -> np.ndarray:
    """One id per ladder: rows of one source at one resolution, frame rate and preset."""
    source_codes, _names = codes.encode(sources)
    preset_codes = np.zeros(raw.shape[0], np.int32) if presets is None else codes.encode(presets)[0]
    return ladder_keys(raw, source_codes, preset_codes).row_ladder


def with_probe_inputs(raw: np.ndarray, sources: np.ndarray, probe_quality: float, presets: np.ndarray | None = None,
                      probe_preset: str | None = None) -> tuple[np.ndarray, ProbeCounts]:
    """``raw`` with the ``probe_*`` columns filled in along each ladder; the counts by origin.

    ``presets`` (one per row, "" for none) split ladders; ``probe_preset`` is the harness's probe
    preset, whose ladder stands for every ladder of its source, resolution and frame rate.
    """
    source_codes, _names = codes.encode(sources)
    if presets is None:
        preset_codes, preset_names = np.zeros(raw.shape[0], np.int32), np.array([""])
    else:
        preset_codes, preset_names = codes.encode(presets)
    out, counts, _ladders = derive_probe_inputs(raw, source_codes, preset_codes, preset_names, probe_quality,
                                                probe_preset)
    return out, counts


def derive_probe_inputs(raw: np.ndarray, source_codes: np.ndarray, preset_codes: np.ndarray, preset_names: np.ndarray,
                        probe_quality: float, probe_preset: str | None,
                        in_place: bool = False) -> tuple[np.ndarray, ProbeCounts, np.ndarray]:
    """``with_probe_inputs`` on integer codes into sorted name tables (``trainer.ingest.codes``), every ladder at
    once (``trainer.ingest.ladders``); also returns each row's ladder id. ``in_place``: fill ``raw`` itself (a
    caller's own copy; a million-row copy costs as much as the derivation on a machine slow to fault pages in).

    Parameters
    ----------
    raw : ndarray of shape (n_rows, n_fields), float64
        Input columns in ``trainer.ingest.columns`` order; NaN where a row has no value.
    source_codes, preset_codes : ndarray of shape (n_rows,), int
        Each row's source and preset as codes into sorted name tables.
    preset_names : ndarray of shape (n_presets,)
        The preset name table ("" for a row that names none).
    probe_quality : float
        The quality the harness probes at.
    probe_preset : str or None
        The harness's probe preset, whose ladder stands for every ladder of its source, resolution and frame rate.
    in_place : bool
        Fill ``raw`` itself instead of a copy.
    """
    keys = ladder_keys(raw, source_codes, preset_codes)
    ladder, n_ladders = keys.row_ladder, keys.n_ladders
    names = preset_names.tolist()
    same = np.array([_same_preset(name, probe_preset) for name in names], dtype=bool)[keys.preset]  # per ladder
    named = np.array([bool(name) for name in names], dtype=bool)[keys.preset]
    found = np.zeros((n_ladders, len(PROBE_FROM_ENCODE)), dtype=bool)
    values = np.full((n_ladders, len(PROBE_FROM_ENCODE)), np.nan)
    for k, (_probe, own) in enumerate(PROBE_FROM_ENCODE):
        values[:, k], found[:, k] = values_at(raw, ladder, n_ladders, _COL[own], same, probe_quality)
    # A site's donor: its probe-preset ladder with a bitrate at the probe quality (the last, if case or
    # spaces make two).
    donor_of_site = np.full(int(keys.site.max(initial=-1)) + 1, -1, dtype=np.int64)
    donors = np.flatnonzero(same & found[:, 0])
    np.maximum.at(donor_of_site, keys.site[donors], donors)
    donor = donor_of_site[keys.site[ladder]]
    own_ladder = donor < 0
    source = np.where(own_ladder, ladder, donor)  # the ladder whose values each row takes
    explicit = ~np.isnan(raw[:, _COL["probe_bitrate_kbps"]])
    lacks_a_size = np.zeros(raw.shape[0], dtype=bool)  # a size its ladder has, absent from the row itself
    for k, (probe, _own) in enumerate(PROBE_FROM_ENCODE[1:], start=1):
        if found[:, k].any():
            lacks_a_size |= found[ladder, k] & np.isnan(raw[:, _COL[probe]])
    lacks_a_size &= ~explicit
    # Rows taking their own ladder's values while it names another preset than the probe's: no frame sizes.
    withholding = own_ladder & (named & bool(probe_preset) & ~same)[ladder]
    unverified = own_ladder & ~named[ladder] & lacks_a_size
    receives = own_ladder | ~np.isnan(raw[:, _COL["crf"]])  # a probe-preset ladder lends to rows with a quality
    out = raw if in_place else np.array(raw, dtype=np.float64, copy=True)  # raw's probe columns read above
    origin = np.zeros(raw.shape[0], dtype=np.int8)  # 0 own encode, 1 own ladder, 2 probe-preset ladder
    for k, (probe, _own) in enumerate(PROBE_FROM_ENCODE):
        column = _COL[probe]
        takes = receives & found[source, k] & np.isnan(raw[:, column])
        if k:  # a frame size: never into a real probe's row, never from a withholding ladder
            takes &= ~explicit & ~withholding
        out[takes, column] = values[source[takes], k]
        if not k:
            origin[takes] = np.where(own_ladder[takes], 1, 2)
    bitrate = _COL["probe_bitrate_kbps"]
    own = np.isnan(out[:, bitrate])
    out[own, bitrate] = raw[own, _COL["bitrate_kbps"]]
    counts = ProbeCounts(int((origin == 1).sum()), int((origin == 2).sum()), int(explicit.sum()),
                         int((~explicit & (origin == 0)).sum()), int((withholding & lacks_a_size).sum()),
                         int(unverified.sum()))
    return out, counts, ladder


def _same_preset(named: object, probe_preset: str | None) -> bool:
    """Preset names compare without case ("Medium" is medium). One named by number (SVT-AV1, libaom)
    never matches the harness's named probe preset: which number that maps to is the harness's business."""
    return bool(probe_preset) and str(named).strip().lower() == str(probe_preset).lower()


def observed_inputs(raw_with_probes: np.ndarray) -> np.ndarray:
    """Per model input, whether any row measured it (stand-ins computed from other inputs do not count)."""
    measured = ~np.isnan(raw_with_probes[:, : len(FEATURE_NAMES)])
    observed = measured.any(axis=0) if raw_with_probes.shape[0] else np.zeros(len(FEATURE_NAMES), dtype=bool)
    shot = _COL["shot_length_frames"]
    observed[shot] |= bool((~np.isnan(raw_with_probes[:, _COL["duration_s"]])).any())
    return observed
