"""The nested-LOSO fit of one fold task: every candidate on the outer and inner folds, in one batch.

Imported by worker processes only (it needs torch through learning.model).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainer.learning.model import MLPWeights, fit, predict
from trainer.learning.profiles import TrainingProfile
from trainer.learning.selection import (
    CANDIDATE_SHRINKS,
    FoldChoice,
    best_candidate,
    candidate_name,
    inner_held_out,
    inner_seed,
    pooled_rmse,
)


def fit_with_choice(features: np.ndarray, target: np.ndarray, held_out: np.ndarray, fold_indices: Sequence[int],
                    sources: np.ndarray, profile: TrainingProfile, seed: int,
                    observed: np.ndarray | None) -> tuple[MLPWeights, list[FoldChoice]]:
    """One model per outer fold (rows of ``held_out``), each the candidate its inner LOSO folds chose."""
    names = [candidate_name(s) for s in CANDIDATE_SHRINKS]
    fallback = names[int(np.argmin([abs(s - profile.shrink) for s in CANDIDATE_SHRINKS]))]
    outer_train = ~held_out
    masks: list[np.ndarray] = []
    shrinks: list[float] = []
    outer_model: dict[tuple[int, int], int] = {}  # (fold k, candidate c) -> model index
    inner_models: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}  # -> [(model, its held-out rows)]
    for k, fold_index in enumerate(fold_indices):
        inner = inner_held_out(sources, outer_train[k], inner_seed(seed, fold_index))
        for c, shrink in enumerate(CANDIDATE_SHRINKS):
            outer_model[k, c] = len(masks)
            masks.append(outer_train[k])
            shrinks.append(shrink)
            for held in inner:
                inner_models.setdefault((k, c), []).append((len(masks), held))
                masks.append(outer_train[k] & ~held)
                shrinks.append(shrink)
    weights = fit(features, target, np.array(masks), profile, seed, observed, shrinks)
    predictions = predict(weights, features).astype(np.float64)
    truth = target.astype(np.float64)
    chosen: list[int] = []
    choices: list[FoldChoice] = []
    for k in range(len(fold_indices)):
        inner_rmse: dict[str, float | None] = {}
        outer_rmse: dict[str, float | None] = {}
        for c, name in enumerate(names):
            out_of_fold = np.full(truth.shape, np.nan)
            covered = np.zeros(truth.shape, dtype=bool)
            for model, held in inner_models.get((k, c), []):
                out_of_fold[held] = predictions[model][held]
                covered |= held
            inner_rmse[name] = _finite(pooled_rmse(out_of_fold, truth, covered))
            outer_rmse[name] = _finite(pooled_rmse(predictions[outer_model[k, c]], truth, held_out[k]))
        name = best_candidate(inner_rmse) or fallback
        chosen.append(outer_model[k, names.index(name)])
        choices.append(FoldChoice(name, inner_rmse, outer_rmse))
    return weights.take(chosen), choices


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
