"""Picklable units of work: plain functions of plain data, runnable on any Executor.

A task trains one or more LOSO folds of one codec side by side; the final task trains the
full-corpus model a passing codec is promoted with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from trainer.metrics import plcc, rmse, srocc
from trainer.model import MLPWeights, fit, predict
from trainer.profiles import TrainingProfile


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


@dataclass(frozen=True)
class FoldResult:
    codec: str
    fold_index: int
    held_out_sources: tuple[str, ...]
    plcc: float
    srocc: float
    rmse: float
    n_train: int
    n_val: int
    seconds: float

    def as_report(self) -> dict[str, object]:
        return {
            "fold_index": self.fold_index,
            "held_out_sources": list(self.held_out_sources),
            "plcc": _finite_or_none(self.plcc),
            "srocc": _finite_or_none(self.srocc),
            "rmse": _finite_or_none(self.rmse),
            "n_train": self.n_train,
            "n_val": self.n_val,
        }


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def configure_worker() -> None:
    """Pool initializer: one torch thread per process, so N workers use N cores, not N^2."""
    import torch

    torch.set_num_threads(1)


def run_fold_task(task: FoldTask) -> list[FoldResult]:
    started = time.perf_counter()
    weights = fit(task.features, task.target, ~task.held_out, task.profile, task.seed)
    predictions = predict(weights, task.features)
    seconds = (time.perf_counter() - started) / len(task.fold_indices)
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


def run_final_task(task: FinalTask) -> MLPWeights:
    """Train on every row of the codec (no held-out fold): the model that would ship."""
    everything = np.ones((1, task.target.shape[0]), dtype=bool)
    return fit(task.features, task.target, everything, task.profile, task.seed)
