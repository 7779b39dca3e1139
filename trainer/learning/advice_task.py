"""The advisor's unit of work: one outer LOSO fold, every source-subset model of it in one batched fit.

Inside the fold, the training sources are shuffled once per draw and the first ``n`` taken for
each curve size, so a draw's subsets are nested (the 6-source set holds the 4-source set). All
those models, plus one on the fold's full training set (whose held-out errors name the sources
the model gets wrong), train side by side as one network: ``fit`` takes one mask row per model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from trainer.core.seeds import stable_seed
from trainer.learning.profiles import TrainingProfile
from trainer.learning.source_errors import SourceError


@dataclass(frozen=True)
class AdviceTask:
    codec: str
    fold_index: int
    features: np.ndarray  # float32 [n, 14]
    target: np.ndarray  # float32 [n]
    sources: np.ndarray  # str [n]
    held_out: np.ndarray  # bool [n]: this fold's held-out rows
    sizes: tuple[int, ...]  # training sources per curve point (each <= this fold's training sources)
    draws: int
    profile: TrainingProfile
    seed: int
    observed: np.ndarray | None = None


@dataclass(frozen=True)
class AdviceOutcome:
    codec: str
    fold_index: int
    plcc: np.ndarray  # float [len(sizes), draws], held-out PLCC of each subset model (NaN: undefined)
    errors: list[SourceError]  # the full-training-set model's error on each held-out source
    seconds: float = 0.0


def subset_masks(task: AdviceTask) -> np.ndarray:
    """Training masks ``[len(sizes) * draws + 1, n]``: size-major, draw-minor, then the full set."""
    training = sorted(set(task.sources[~task.held_out].tolist()))
    masks = []
    for size in task.sizes:
        for draw in range(task.draws):
            order = np.random.default_rng(stable_seed(task.seed, "draw", draw)).permutation(len(training))
            chosen = [training[i] for i in order[:size]]
            masks.append(np.isin(task.sources, chosen) & ~task.held_out)
    masks.append(~task.held_out)
    return np.stack(masks)


def run_advice_task(task: AdviceTask) -> AdviceOutcome:
    from trainer.learning.metrics import plcc
    from trainer.learning.model import fit, predict
    from trainer.learning.source_errors import source_errors

    started = time.perf_counter()
    masks = subset_masks(task)
    weights = fit(task.features, task.target, masks, task.profile, task.seed, task.observed)
    predictions = predict(weights, task.features[task.held_out])
    truth = task.target[task.held_out]
    scores = np.array([plcc(p, truth) for p in predictions[:-1]], dtype=np.float64)
    errors = source_errors(task.fold_index, task.sources[task.held_out], predictions[-1], truth)
    return AdviceOutcome(task.codec, task.fold_index, scores.reshape(len(task.sizes), task.draws), errors,
                         time.perf_counter() - started)
