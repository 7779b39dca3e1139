"""Calibration sets from a judged codec: the challenger's LOSO out-of-fold errors, or a kept model's.

The challenger (the model a PASS would ship, retrained on everything) is calibrated by its fold
models' errors on the sources each held out: cross-validation+ (Barber et al. 2021). A kept
model (a stub, or the production model still shipping) is calibrated by its own errors on the
sources it never saw: plain split conformal. Both sets carry each row's and pick's LOSO fold so
the tables can be judged with each fold's quantile taken from the other folds only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from trainer.learning.calibration import CalibrationSet, calibration_report, row_set
from trainer.learning.pick_offsets import PickLadder, pick_cases, pick_ladders
from trainer.learning.results import FoldResult

CV_PLUS = "cv-plus"  # LOSO out-of-fold errors of the fold models, for the full-corpus model
SPLIT = "split-conformal"  # a fixed model's errors on sources it never saw


def out_of_fold(folds: Sequence[FoldResult], n_rows: int, served: bool = False) -> np.ndarray:
    """Each row's prediction by the fold model that held its source out; NaN where no fold reported it.

    ``served``: on the inputs the harness serves (its own probe where --harness-probes has one).
    """
    oof = np.full(n_rows, np.nan, dtype=np.float64)
    for fold in folds:
        predictions = fold.served_predictions if served and fold.served_predictions is not None else fold.predictions
        if fold.held_out_rows is not None and predictions is not None:
            oof[fold.held_out_rows] = predictions
    return oof


def fold_of_rows(folds: Sequence[FoldResult], n_rows: int) -> np.ndarray:
    """Each row's outer LOSO fold (-1 where no fold held it out)."""
    which = np.full(n_rows, -1, dtype=np.int64)
    for fold in folds:
        if fold.held_out_rows is not None:
            which[fold.held_out_rows] = fold.fold_index
    return which


def fold_of_source(folds: Sequence[FoldResult]) -> dict[str, int]:
    return {src: fold.fold_index for fold in folds for src in fold.held_out_sources}


def _cases_with_folds(ladders: Sequence[PickLadder], folds: dict[str, int]) -> tuple[list, np.ndarray]:
    cases = [case for case in pick_cases(ladders) if case.ladder.source in folds]
    return cases, np.array([folds[case.ladder.source] for case in cases], dtype=np.int64)


def served_inputs(sources: np.ndarray, probed: np.ndarray | None) -> str:
    """Which probe inputs the calibration set was made on (the harness's own where it probed the clip)."""
    names = np.asarray(sources).astype(str)
    if probed is None:
        return "the corpus's probe inputs (no --harness-probes)"
    return (f"the harness's own probe for {np.unique(names[probed]).size} of {np.unique(names).size} sources, "
            "the corpus's probe inputs for the rest")


def challenger_calibration(truth: np.ndarray, sources: np.ndarray, folds: Sequence[FoldResult],
                           probed: np.ndarray | None = None) -> dict[str, object]:
    """``codecs[].calibration``: the out-of-fold errors that calibrate the full-corpus model (CV+).

    ``probed`` (bool per row, --harness-probes): the rows whose fold predictions were made on the harness's probe.
    """
    residuals, row_folds, row_sources = row_set(truth, out_of_fold(folds, truth.shape[0], served=True), sources,
                                                fold_of_rows(folds, truth.shape[0]))
    ladders = [ladder for fold in folds for ladder in fold.pick_ladders]
    cases, pick_folds = _cases_with_folds(ladders, fold_of_source(folds))
    report = calibration_report(CalibrationSet(residuals, row_folds, row_sources, cases, pick_folds), CV_PLUS,
                                "challenger")
    return {**report, "inputs": served_inputs(sources, probed)}


def kept_model_calibration(features: np.ndarray, truth: np.ndarray, predicted: np.ndarray, sources: np.ndarray,
                           kbps: np.ndarray, codec: str, predict: Callable[[np.ndarray], np.ndarray],
                           folds: Sequence[FoldResult], ladder_ids: np.ndarray | None,
                           probed: np.ndarray | None = None) -> dict[str, object]:
    """``incumbent.calibration``: a fixed model's errors on rows (and ladders) of sources it never saw.

    ``features`` … ``ladder_ids`` are those unseen rows only; ``predicted`` the model's output on them.

    Parameters
    ----------
    features : ndarray of shape (n_rows, 14)
        Model inputs in contract order (float32), as the harness serves them; column ``QUALITY_INPUT`` is the
        quality a ladder steps through.
    truth : ndarray of shape (n_rows,)
        Measured VMAF (0-100).
    predicted : ndarray of shape (n_rows,)
        The kept model's VMAF prediction on ``features``.
    sources : ndarray of shape (n_rows,)
        Each row's source name; it places the row in the LOSO fold that held its source out.
    kbps : ndarray of shape (n_rows,)
        Each row's encode bitrate in kbit/s; NaN where the corpus has none.
    codec : str
        The codec, for its quality range (the harness searches every integer quality in it).
    predict : callable
        The kept model: features of shape (m, 14) to predicted VMAF of shape (m,), for the pick ladders.
    folds : sequence of FoldResult
        The challenger's LOSO folds, for the fold each source was held out in.
    ladder_ids : ndarray of shape (n_rows,) or None
        The corpus's ladder id per row (int); None: ladders from the inputs and sources alone.
    probed : ndarray of shape (n_rows,), optional
        Bool: the rows whose inputs are the harness's own probe (--harness-probes); None: no harness probes.
    """
    by_source = fold_of_source(folds)
    row_folds = np.array([by_source.get(str(s), -1) for s in np.asarray(sources).astype(str)], dtype=np.int64)
    residuals, row_folds, row_sources = row_set(truth, predicted, sources, row_folds)
    ladders = pick_ladders(features, truth, kbps, codec, predict, sources, ladder_ids)
    cases, pick_folds = _cases_with_folds(ladders, by_source)
    report = calibration_report(CalibrationSet(residuals, row_folds, row_sources, cases, pick_folds), SPLIT, "shipped")
    return {**report, "inputs": served_inputs(sources, probed)}
