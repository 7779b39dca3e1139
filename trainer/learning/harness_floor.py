"""``codecs[].harness_curve``: the harness's curve scored on the challenger's held-out ladders, and the floor check.

Three rows, each on exactly the ladders and targets the challenger's row of the same name used:
``crf_pick`` (the corpus's probe inputs), ``crf_pick_harness_probe`` (the harness's own probe of each
clip it probed, its bitrate as measured: the harness with its bitrate parse fixed) and
``crf_pick_harness_probe_0kbps`` (the 0 kbps the published harness really sends, where the curve sees
``max(0, 1)`` and is the same for every clip). The floor compares the model that will be in the model
directory after this run, on the inputs the harness serves (``served_features``: its probe as measured
where it probed the clip; at 0 kbps the model's graph recovers that bitrate, so its picks are the same),
with the curve both ways, source by source (``trainer.learning.floor``): as published (0 kbps: what the
harness does today with no model) and with the bitrate parse fixed. Worse than either is a warning. Where
this run's model does not ship, it is judged the same way under ``floor.challenger``, its warning saying so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from trainer.core.probe_recovery import at_zero_kbps
from trainer.core.sections import section
from trainer.ingest.corpus import CodecData
from trainer.ingest.harness_probes import served_features, with_probe
from trainer.learning.calibration_sets import served_inputs
from trainer.learning.crf_pick import PickSummary, crf_pick_by_group, crf_pick_metrics, pool
from trainer.learning.floor import compare_with_curve
from trainer.learning.harness_curve import coefficients_report, curve_predictor
from trainer.learning.pick_offsets import pick_cases, summary_at
from trainer.learning.results import FoldResult

Summary = PickSummary | None


def _fold_rows(folds: Sequence[FoldResult]) -> list[np.ndarray]:
    return [np.asarray(f.held_out_rows) for f in sorted(folds, key=lambda f: f.fold_index)
            if f.held_out_rows is not None]


def _curve_rows(data: CodecData, folds: Sequence[FoldResult]) -> dict[str, Summary]:
    """The curve's three pick rows, pooled over the folds' held-out rows like the challenger's."""
    curve = curve_predictor(data.codec)
    kbps = data.encode_kbps if data.encode_kbps is not None else np.full(data.n_rows, np.nan)
    ladders = None if data.ladders is None else np.asarray(data.ladders)

    def picks(features: np.ndarray, rows: np.ndarray) -> Summary:
        ids = None if ladders is None else ladders[rows]
        return crf_pick_metrics(features, data.target[rows], kbps[rows], data.codec, curve, ids)

    plain, measured, zero = [], [], []
    for rows in _fold_rows(folds):
        plain.append(picks(data.features[rows], rows))
        if data.harness is not None:
            probed = rows[data.harness.rows[rows]]
            if probed.size:
                fed = with_probe(data.features[probed], data.harness.probe[probed])
                measured.append(picks(fed, probed))
                zero.append(picks(at_zero_kbps(fed), probed))
    return {"crf_pick": pool(plain), "crf_pick_harness_probe": pool(measured),
            "crf_pick_harness_probe_0kbps": pool(zero)}


def challenger_by_source(folds: Sequence[FoldResult]) -> dict[str, PickSummary]:
    """The challenger's out-of-fold picks per source on the served inputs (its folds' pick ladders)."""
    by_source: dict[str, list] = {}
    for case in pick_cases([ladder for fold in folds for ladder in fold.pick_ladders]):
        by_source.setdefault(case.ladder.source, []).append(case)
    return {src: summary for src, cases in sorted(by_source.items()) if (summary := summary_at(cases, 0.0))}


NOT_PROMOTED = "this run's model (not promoted)"
FLOOR_CURVES = (("as_published", "as published (0 kbps)"), ("parse_fixed", "with the bitrate parse fixed"))


def harness_curve_report(data: CodecData, folds: Sequence[FoldResult], challenger_ships: bool,
                         incumbent: Mapping[str, object] | None) -> dict[str, object] | None:
    """The curve's rows and the floor verdict; None when the corpus has no ladder to pick on."""
    rows = _curve_rows(data, folds)
    if rows["crf_pick"] is None:
        return None
    served = served_features(data.features, None if data.harness is None else data.harness.probe)
    kbps = data.encode_kbps if data.encode_kbps is not None else np.full(data.n_rows, np.nan)
    curve = curve_predictor(data.codec)
    curves = {key: crf_pick_by_group(fed, data.target, kbps, data.codec, curve, data.sources, data.ladders)
              for key, fed in (("as_published", at_zero_kbps(served)), ("parse_fixed", served))}
    floor: dict[str, object] = {"inputs": served_inputs(data.sources, None if data.harness is None
                                                        else data.harness.rows)}
    model, label = _model_in_directory(folds, challenger_ships, incumbent)
    judged = {} if model is None else {key: compare_with_curve(model, curves[key], label, name)
                                       for key, name in FLOOR_CURVES}
    warnings = [str(v["warning"]) for v in judged.values() if v.get("warning")]
    floor.update(judged=any(bool(v.get("judged")) for v in judged.values()), model=None if model is None else label,
                 worse=bool(warnings), **judged)
    if model is None:
        floor["reason"] = label
    if not challenger_ships:  # this run's model, judged too: it is what a pass on more data would ship
        mine = challenger_by_source(folds)
        challenger = {key: compare_with_curve(mine, curves[key], NOT_PROMOTED, name, in_directory=False)
                      for key, name in FLOOR_CURVES}
        floor["challenger"] = challenger
        warnings += [str(v["warning"]) for v in challenger.values() if v.get("warning")]
    floor["warnings"] = warnings
    return {"coefficients": coefficients_report(data.codec), **rows, "floor": floor}


def _model_in_directory(folds: Sequence[FoldResult], challenger_ships: bool,
                        incumbent: Mapping[str, object] | None) -> tuple[Mapping[str, Mapping] | None, str]:
    """The per-source picks of the model that will be in the model directory after this run, and its name
    (or None and why it cannot be judged)."""
    if challenger_ships:
        return challenger_by_source(folds), "promoted challenger"
    if section(incumbent).get("comparable") and (by_source := section(incumbent, "crf_pick_served_by_source")):
        return dict(by_source), f"kept {section(incumbent).get('kind', 'shipped')}"
    return None, "the kept model could not be scored on these ladders (see incumbent)"
