"""The shipped model as champion: scored, exactly as shipped, on the corpus rows it never saw.

A challenger only earns its place if it beats what already ships on the same rows. The shipped
ONNX runs through onnxruntime on every row whose source its card's provenance does not list
(a stub saw no real source: every row); the challenger is judged on those rows by its LOSO
out-of-fold predictions, the only predictions it made without seeing the row's source.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypedDict

import numpy as np

from trainer.core.probe_recovery import at_zero_kbps
from trainer.core.sections import number, section
from trainer.ingest.corpus import CodecData
from trainer.ingest.harness_probes import served_features
from trainer.learning.calibration_sets import kept_model_calibration, out_of_fold
from trainer.learning.crf_pick import PickSummary, crf_pick_by_group, crf_pick_metrics, pool
from trainer.learning.metrics import plcc, rmse
from trainer.learning.results import FoldResult, finite_or_none
from trainer.shipping.artifacts import calibration_path, card_path, model_path, sha256_bytes
from trainer.shipping.onnx_export import ort_predict
from trainer.shipping.provenance import NoProvenance, read_provenance
from trainer.shipping.sidecar import check_sidecar

PLCC_MARGIN = 0.005  # a challenger whose PLCC is lower than the shipped model's by more than this is worse
CRF_PICK_MARGIN_STEPS = 0.5  # ... or whose quality pick is off by more than this many more steps
WORSE = "worse-than-incumbent"
_ONNX_SHA = re.compile(r"^- sha256: `([0-9a-f]{64})`$", re.M)

Compare = Callable[[CodecData, Sequence[FoldResult]], dict[str, object]]


def not_comparable(reason: str) -> dict[str, object]:
    return {"comparable": False, "reason": reason}


class Scores(TypedDict):
    """One model on the shared unseen rows: the shipped model's (inline in ``incumbent``) and its ``challenger``."""

    plcc: float | None
    rmse: float | None
    crf_pick: PickSummary | None


def _scores(pred: np.ndarray, truth: np.ndarray, pick: PickSummary | None) -> Scores:
    return {"plcc": finite_or_none(plcc(pred, truth)), "rmse": finite_or_none(rmse(pred, truth)), "crf_pick": pick}


def compare_with_incumbent(data: CodecData, folds: Sequence[FoldResult], model_dir: Path) -> dict[str, object]:
    """The report's ``codecs[].incumbent``: both models on the same unseen rows, or why they cannot be compared;
    ``regression`` is the worse-than-incumbent reason (or None), so the engine knows without this layer."""
    try:
        compared = _compare(data, folds, Path(model_dir))
        return {**compared, "regression": regression(compared)} if compared.get("comparable") else compared
    except Exception as exc:  # never lose a verdict to the comparison: say what went wrong instead
        return not_comparable(f"comparison failed: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")


def _compare(data: CodecData, folds: Sequence[FoldResult], model_dir: Path) -> dict[str, object]:
    model_file, card_file = model_path(model_dir, data.codec), card_path(model_dir, data.codec)
    try:
        onnx_bytes = model_file.read_bytes()
        card = card_file.read_text(encoding="utf-8")
    except OSError as exc:
        return not_comparable(f"shipped model or card missing or unreadable: {exc.strerror or exc} "
                              f"({Path(exc.filename or model_file).name})")
    try:
        provenance = read_provenance(card)
    except NoProvenance as exc:
        return not_comparable(str(exc))
    sha = sha256_bytes(onnx_bytes)
    recorded = _ONNX_SHA.findall(card)
    if recorded[-1:] != [sha]:
        return not_comparable(f"the card does not describe {model_file.name} (its ONNX sha256 differs from the file's)")
    sources = np.asarray(data.sources).astype(str)
    unseen = ~np.isin(sources, np.array(provenance.sources, dtype=str))
    if not unseen.any():
        return not_comparable(f"no unseen sources: all {data.n_sources} sources of this corpus were in the shipped "
                              "model's training set")
    challenger = out_of_fold(folds, data.n_rows)[unseen]
    if not np.isfinite(challenger).all():
        return not_comparable("out-of-fold predictions are missing for some rows")
    try:
        shipped = ort_predict(onnx_bytes, data.features[unseen])[:, 0]
    except Exception as exc:
        return not_comparable(f"{model_file.name} cannot be run by onnxruntime: {' '.join(str(exc).split())[:200]}")
    features, truth, unseen_sources = data.features[unseen], data.target[unseen], sources[unseen]
    kbps = (data.encode_kbps if data.encode_kbps is not None else np.full(data.n_rows, np.nan))[unseen]
    def shipped_model(x: np.ndarray) -> np.ndarray:
        return ort_predict(onnx_bytes, x)[:, 0]

    shipped_picks = crf_pick_by_group(features, truth, kbps, data.codec, shipped_model, unseen_sources)
    ladder_ids = None if data.ladders is None else np.asarray(data.ladders)[unseen]
    # Calibrated on the inputs the harness will feed it: its own probe of each clip it probed (--harness-probes).
    served = served_features(features, None if data.harness is None else data.harness.probe[unseen])
    served_shipped = shipped if data.harness is None else shipped_model(served)
    probed = None if data.harness is None else data.harness.rows[unseen]
    calibration = kept_model_calibration(served, truth, served_shipped, unseen_sources, kbps, data.codec,
                                         shipped_model, folds, ladder_ids, probed)
    as_probed = _as_probed(served, truth, kbps, data.codec, shipped_model, ladder_ids, probed)
    challenger_picks: dict[str, PickSummary] = {}
    for fold in folds:
        challenger_picks.update(fold.crf_pick_by_source or {})
    names = sorted(set(unseen_sources.tolist()))
    return {
        "comparable": True,
        "kind": provenance.kind,
        "sha256": sha,
        "n_rows": int(unseen.sum()),
        "n_sources": len(names),
        **_scores(shipped, truth, pool([shipped_picks.get(n) for n in names])),
        **as_probed,
        # Per unseen source, its picks on the inputs the harness serves: what the harness curve's floor pairs with.
        "crf_pick_served_by_source": crf_pick_by_group(served, truth, kbps, data.codec, shipped_model, unseen_sources,
                                                       ladder_ids),
        "challenger": _scores(challenger, truth, pool([challenger_picks.get(n) for n in names])),
        "calibration": {**calibration, "model_sha256": sha},
        # What the harness would load beside the shipped model today (reported, never trusted here).
        "sidecar": check_sidecar(calibration_path(model_dir, data.codec), sha).as_report(),
    }


def _as_probed(served: np.ndarray, truth: np.ndarray, kbps: np.ndarray, codec: str,
               model: Callable[[np.ndarray], np.ndarray], ladder_ids: np.ndarray | None,
               probed: np.ndarray | None) -> dict[str, object]:
    """The shipped model's picks on the clips the harness probed, fed its probe (the bitrate as measured, and the
    0 kbps the published harness sends: the ONNX graph recovers it itself); empty without --harness-probes."""
    if probed is None or not probed.any():
        return {}
    ids = None if ladder_ids is None else ladder_ids[probed]
    x, y, rate = served[probed], truth[probed], kbps[probed]
    return {"crf_pick_harness_probe": crf_pick_metrics(x, y, rate, codec, model, ids),
            "crf_pick_harness_probe_0kbps": crf_pick_metrics(at_zero_kbps(x), y, rate, codec, model, ids)}


def incumbent_judge(model_dir: Path) -> Compare:
    """What the engine calls when a codec's folds are in: compare against ``model_dir``'s shipped model."""
    return lambda data, folds: compare_with_incumbent(data, folds, model_dir)


def _quality_error(scores: Mapping[str, object]) -> float | None:
    pick = scores.get("crf_pick")
    value = pick.get("mean_abs_quality_error") if isinstance(pick, Mapping) else None
    return None if value is None else float(value)


def regression(incumbent: Mapping[str, object] | None) -> str | None:
    """``worse-than-incumbent: …`` with the numbers when the challenger loses on the shared rows, else None."""
    if not incumbent or not incumbent.get("comparable"):
        return None
    mine = section(incumbent, "challenger")
    worse = []
    ours, theirs = number(mine.get("plcc")), number(incumbent.get("plcc"))
    if ours is not None and theirs is not None and ours < theirs - PLCC_MARGIN:
        worse.append(f"PLCC {ours:.4f} vs shipped {theirs:.4f} "
                     f"(lower by {theirs - ours:.4f} > {PLCC_MARGIN})")
    our_err, their_err = _quality_error(mine), _quality_error(incumbent)
    if our_err is not None and their_err is not None and our_err > their_err + CRF_PICK_MARGIN_STEPS:
        worse.append(f"CRF-pick error {our_err:.2f} vs shipped {their_err:.2f} steps "
                     f"(larger by {our_err - their_err:.2f} > {CRF_PICK_MARGIN_STEPS})")
    if not worse:
        return None
    rmses = f"RMSE {_num(mine.get('rmse'))} vs shipped {_num(incumbent.get('rmse'))}"
    return (f"{WORSE}: on {incumbent['n_rows']} rows from {incumbent['n_sources']} sources the shipped "
            f"{incumbent['kind']} model ({str(incumbent['sha256'])[:12]}) never saw: {'; '.join(worse)}; {rmses}")


def _num(value: object) -> str:
    found = number(value)
    return "n/a" if found is None else f"{found:.2f}"
