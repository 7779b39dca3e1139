"""Is a model's picking worse than the harness's curve beyond sampling noise? A paired bootstrap over sources.

Picks are grouped by source (one clip's ladders rise and fall together), so the noise is the
sources', not the picks': both predictors are scored on the same held-out ladders of each source,
and the sources are resampled with replacement (``DRAWS`` draws, fixed seed) to get a 90 % interval
of the pooled differences model - curve in miss rate and in bitrate against the oracle.

"Worse" (issue #37): more misses at no less bitrate, or more bitrate at no fewer misses. Beyond noise
means the worse side's interval lies wholly above 0 and the other side's interval does not lie wholly
below 0 (the model is not cheaper, or not safer, beyond noise either). It is a warning: the gate and the
exit code do not change.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

DRAWS = 2000
SEED = 20260407  # fixed: the same corpus and run seed give the same verdict
LEVEL = 0.90
MIN_SOURCES = 5
FLOOR_WARNING = "picks worse than the harness's curve"


def _columns(by_source: Mapping[str, Mapping], names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per source: picks, misses, and the bitrate sum (NaN where the source's ladders carry no bitrate)."""
    n = np.array([float(by_source[s]["n"]) for s in names])
    misses = n * np.array([float(by_source[s]["miss_rate"]) for s in names])
    rate = np.array([np.nan if by_source[s].get("mean_bitrate_overspend_pct") is None
                     else float(by_source[s]["mean_bitrate_overspend_pct"]) for s in names])
    return n, misses, n * rate


def _interval(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"low": None, "high": None}
    tail = (1.0 - LEVEL) / 2.0
    return {"low": float(np.quantile(finite, tail)), "high": float(np.quantile(finite, 1.0 - tail))}


def compare_with_curve(model: Mapping[str, Mapping], curve: Mapping[str, Mapping], label: str,
                       curve_label: str = "", in_directory: bool = True) -> dict[str, object]:
    """``harness_curve.floor``: the model's and the curve's pooled picks on the sources both were judged on,
    the bootstrap intervals of their differences, and the warning (None: not worse, or not judged)."""
    names = sorted(set(model) & set(curve))
    report: dict[str, object] = {"model": label, "n_sources": len(names), "draws": DRAWS, "seed": SEED,
                                 "level": LEVEL, "worse": False, "warning": None}
    if len(names) < MIN_SOURCES:
        return {**report, "judged": False, "reason": f"{len(names)} sources with picks < {MIN_SOURCES}"}
    (n, m_miss, m_rate), (_, c_miss, c_rate) = _columns(model, names), _columns(curve, names)
    has_rate = bool(np.isfinite(m_rate).all() and np.isfinite(c_rate).all())
    draws = np.random.default_rng(SEED).integers(0, len(names), size=(DRAWS, len(names)))
    weight = n[draws].sum(axis=1)
    miss_diff = (m_miss[draws].sum(axis=1) - c_miss[draws].sum(axis=1)) / weight
    mine = {"miss_rate": float(m_miss.sum() / n.sum()), "n": int(n.sum())}
    theirs = {"miss_rate": float(c_miss.sum() / n.sum()), "n": int(n.sum())}
    miss = {"point": mine["miss_rate"] - theirs["miss_rate"], **_interval(miss_diff)}
    rate: dict[str, float | None] = {"point": None, "low": None, "high": None}
    if has_rate:
        mine["mean_bitrate_overspend_pct"] = float(m_rate.sum() / n.sum())
        theirs["mean_bitrate_overspend_pct"] = float(c_rate.sum() / n.sum())
        rate_diff = (m_rate[draws].sum(axis=1) - c_rate[draws].sum(axis=1)) / weight
        rate = {"point": mine["mean_bitrate_overspend_pct"] - theirs["mean_bitrate_overspend_pct"],
                **_interval(rate_diff)}
    worse = _worse(miss, rate)
    report.update(judged=True, model_pick=mine, curve_pick=theirs, miss_rate_diff=miss, bitrate_diff_pct=rate,
                  worse=worse)
    if worse:
        report["warning"] = floor_warning(label, mine, theirs, len(names), curve_label, in_directory)
    return report


def _above(side: Mapping[str, float | None]) -> bool:
    """The difference's interval lies above zero (worse beyond noise); no interval is not above."""
    low = side.get("low")
    return low is not None and float(low) > 0


def _not_below(side: Mapping[str, float | None]) -> bool:
    """The difference's interval reaches zero or above (not better beyond noise); no interval is not below."""
    high = side.get("high")
    return high is None or float(high) >= 0


def _worse(miss: Mapping[str, float | None], rate: Mapping[str, float | None]) -> bool:
    """More misses beyond noise at bitrate not lower beyond noise, or the other way round."""
    return (_above(miss) and _not_below(rate)) or (_above(rate) and _not_below(miss))


def floor_warning(label: str, mine: Mapping[str, float], theirs: Mapping[str, float], n_sources: int,
                  curve_label: str = "", in_directory: bool = True) -> str:
    """The floor's one-line warning: the model's pooled picks beside the curve's, on the same held-out sources.

    Parameters
    ----------
    label : str
        The model's name in the warning ("promoted challenger", "kept ..."), or the whole phrase naming it
        when not ``in_directory``.
    mine : mapping of str to float
        The model's pooled picks: ``miss_rate`` (0-1) and, where the ladders carry bitrate,
        ``mean_bitrate_overspend_pct`` (percent against the oracle).
    theirs : mapping of str to float
        The harness curve's pooled picks, keyed alike.
    n_sources : int
        How many held-out sources both were judged on.
    curve_label : str
        Which reading of the curve ("as published (0 kbps)", "with the bitrate parse fixed"); empty: none.
    in_directory : bool
        Whether the model is the one that will be in the model directory (then named as such).
    """

    def side(pick: Mapping[str, float]) -> str:
        rate = pick.get("mean_bitrate_overspend_pct")
        return f"{100 * pick['miss_rate']:.0f} % misses" + ("" if rate is None else f" at {rate:+.0f} % bitrate")

    curve = "the harness's curve with no model" + (f" {curve_label}" if curve_label else "")
    who = f"the {label} model that will be in the model directory" if in_directory else label
    return (f"{FLOOR_WARNING}: {who} picks {side(mine)} on "
            f"{n_sources} held-out sources, {curve} {side(theirs)} (paired bootstrap over sources, {LEVEL:.0%} "
            "intervals; a warning, not a gate)")
