"""Picklable units of work: plain functions of plain data, runnable on any Executor.

A task trains one or more LOSO folds of one codec side by side; the final task trains the
full-corpus model a passing codec is promoted with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from trainer.learning.profiles import TrainingProfile
from trainer.learning.results import FoldResult

if TYPE_CHECKING:
    from trainer.learning.model import MLPWeights

# torch and scipy are imported inside the task functions: the processes that run tasks pay for
# them (the fork server preloads them once), the process that only plans and reports does not.


@dataclass(frozen=True)
class FoldTask:
    codec: str
    fold_indices: tuple[int, ...]
    features: np.ndarray  # float32 [n, 14]
    target: np.ndarray  # float32 [n]
    held_out: np.ndarray  # bool [len(fold_indices), n]
    held_out_sources: tuple[tuple[str, ...], ...]
    profile: TrainingProfile
    seed: int
    job_id: int = 0
    observed: np.ndarray | None = None  # [14] bool: inputs some row measured (the rest get zero weight)
    encode_kbps: np.ndarray | None = None  # [n] each row's own encode bitrate (NaN absent), for crf_pick
    ladders: np.ndarray | None = None  # [n] each row's corpus ladder (presets apart), for crf_pick


def run_fold_task(task: FoldTask) -> list[FoldResult]:
    from trainer.learning.baseline import baseline_predictions
    from trainer.learning.crf_pick import crf_pick_metrics
    from trainer.learning.metrics import plcc, rmse, srocc
    from trainer.learning.model import fit, predict

    started = time.perf_counter()
    weights = fit(task.features, task.target, ~task.held_out, task.profile, task.seed, task.observed)
    predictions = predict(weights, task.features)
    seconds = (time.perf_counter() - started) / len(task.fold_indices)
    baseline = baseline_predictions(task.features, task.target, task.held_out)
    kbps = task.encode_kbps if task.encode_kbps is not None else np.full(task.target.shape[0], np.nan)
    results = []
    for k, fold_index in enumerate(task.fold_indices):
        val = task.held_out[k]
        pred, truth = predictions[k][val], task.target[val]
        results.append(
            FoldResult(
                codec=task.codec,
                fold_index=fold_index,
                held_out_sources=task.held_out_sources[k],
                plcc=plcc(pred, truth),
                srocc=srocc(pred, truth),
                rmse=rmse(pred, truth),
                n_train=int((~val).sum()),
                n_val=int(val.sum()),
                seconds=seconds,
                baseline_plcc=plcc(baseline[k][val], truth),
                baseline_rmse=rmse(baseline[k][val], truth),
                crf_pick=crf_pick_metrics(task.features[val], task.target[val], kbps[val], task.codec,
                                          lambda x, k=k: predict(weights.select(k), x)[0],
                                          None if task.ladders is None else task.ladders[val]),
            )
        )
    return results


@dataclass(frozen=True)
class FinalTask:
    codec: str
    features: np.ndarray
    target: np.ndarray
    profile: TrainingProfile
    seed: int
    observed: np.ndarray | None = None


def run_final_task(task: FinalTask) -> MLPWeights:
    """Train on every row of the codec (no held-out fold): the model that would ship."""
    from trainer.learning.model import fit

    everything = np.ones((1, task.target.shape[0]), dtype=bool)
    return fit(task.features, task.target, everything, task.profile, task.seed, task.observed)
