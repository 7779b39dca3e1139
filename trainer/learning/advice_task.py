"""The advisor's unit of work: one outer LOSO fold, every source-subset model of it in one batched fit.

Inside the fold, the training sources are shuffled once per draw and the first ``n`` taken for
each curve size, so a draw's subsets are nested (the 6-source set holds the 4-source set). All
those models, plus one on the fold's full training set (whose held-out errors name the sources
the model gets wrong), train side by side as one network: ``fit`` takes one mask row per model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from trainer.core.seeds import stable_seed
from trainer.learning.profiles import TrainingProfile
from trainer.learning.source_errors import SourceError

# Up to this many training sources per fold (NFLX, the real sweep, M and any 9-20 source corpus), the curve's
# models train side by side over the whole table; beyond it, each size on its own rows (``_held_out_predictions``).
WHOLE_TABLE_SOURCES = 100
# ... for this share of the profile's epochs: a learning curve compares sizes with each other, and 5 folds x 49
# models at full epochs over a 969-source corpus took 4.5 minutes.
ADVICE_EPOCH_SHARE = 0.5


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
    # The curve sizes (indices into ``sizes``) this task trains, and whether it also trains the full training
    # set's model; a large corpus splits a fold in two tasks so both workers share its cost (``split_fold``).
    part: tuple[int, int] | None = None

    @property
    def size_range(self) -> range:
        return range(*(self.part or (0, len(self.sizes))))

    @property
    def trains_full_set(self) -> bool:
        return self.part is None or self.part[1] == len(self.sizes)


@dataclass(frozen=True)
class AdviceOutcome:
    codec: str
    fold_index: int
    plcc: np.ndarray  # float [len(sizes), draws], held-out PLCC of each subset model (NaN: undefined)
    errors: list[SourceError]  # the full-training-set model's error on each held-out source
    seconds: float = 0.0
    first_size: int = 0  # index in the task's sizes of plcc's first row (a part of a split fold)


def splits_folds(task: AdviceTask) -> bool:
    """Whether the fold's models train on their own rows, in two parts (a corpus past WHOLE_TABLE_SOURCES)."""
    return len(set(task.sources[~task.held_out].tolist())) > WHOLE_TABLE_SOURCES


def split_fold(task: AdviceTask) -> list[AdviceTask]:
    """The fold as two tasks of about equal cost (a size's models cost about the rows of its draws), so the
    five folds of a large corpus keep two workers busy instead of leaving one idle for the fifth."""
    if not splits_folds(task) or len(task.sizes) < 2:
        return [task]
    largest = max(task.sizes)
    costs = np.cumsum([min(task.draws * size, largest) for size in task.sizes])
    half = (costs[-1] + largest) / 2  # the full training set's model comes with the second part
    cut = int(np.clip(np.searchsorted(costs, half), 1, len(task.sizes) - 1))
    return [replace(task, part=(0, cut)), replace(task, part=(cut, len(task.sizes)))]


def merge_parts(outcomes: list[AdviceOutcome]) -> list[AdviceOutcome]:
    """One outcome per fold from the outcomes of its parts (sizes in order, errors from the full-set part)."""
    folds: dict[int, list[AdviceOutcome]] = {}
    for outcome in outcomes:
        folds.setdefault(outcome.fold_index, []).append(outcome)
    merged = []
    for fold_index, parts in sorted(folds.items()):
        parts.sort(key=lambda o: o.first_size)
        merged.append(AdviceOutcome(parts[0].codec, fold_index, np.concatenate([o.plcc for o in parts]),
                                    [e for o in parts for e in o.errors], sum(o.seconds for o in parts)))
    return merged


def subset_masks(task: AdviceTask) -> np.ndarray:
    """Training masks ``[len(sizes) * draws + 1, n]`` of the task's sizes: size-major, draw-minor, then the
    full set (if the task trains it)."""
    training = sorted(set(task.sources[~task.held_out].tolist()))
    masks = []
    for size in (task.sizes[i] for i in task.size_range):
        for draw in range(task.draws):
            order = np.random.default_rng(stable_seed(task.seed, "draw", draw)).permutation(len(training))
            chosen = [training[i] for i in order[:size]]
            masks.append(np.isin(task.sources, chosen) & ~task.held_out)
    if task.trains_full_set:
        masks.append(~task.held_out)
    return np.stack(masks)


def run_advice_task(task: AdviceTask) -> AdviceOutcome:
    from trainer.learning.metrics import plcc
    from trainer.learning.source_errors import source_errors

    started = time.perf_counter()
    masks = subset_masks(task)
    predictions = _held_out_predictions(task, masks)
    truth = task.target[task.held_out]
    n_curve = len(task.size_range) * task.draws
    scores = np.array([plcc(p, truth) for p in predictions[:n_curve]], dtype=np.float64)
    errors = (source_errors(task.fold_index, task.sources[task.held_out], predictions[-1], truth)
              if task.trains_full_set else [])
    return AdviceOutcome(task.codec, task.fold_index, scores.reshape(len(task.size_range), task.draws), errors,
                         time.perf_counter() - started, task.size_range.start)


def _held_out_predictions(task: AdviceTask, masks: np.ndarray) -> np.ndarray:
    """``[models, held-out rows]``: every subset model's prediction on the fold's held-out rows.

    On a corpus of up to ``WHOLE_TABLE_SOURCES`` training sources all models train side by side over the
    whole table, as they always have. On a larger one, each curve size's draws train on the rows they use
    alone: a 3-source model of a 969-source corpus would otherwise step through 17,000 rows to learn from 60,
    which made the advice cost (models x the whole table) and took 4.5 minutes on YT-UGC."""
    from trainer.learning.model import fit, predict

    held_out = task.features[task.held_out]
    if not splits_folds(task):
        return predict(fit(task.features, task.target, masks, task.profile, task.seed, task.observed), held_out)
    profile = replace(task.profile, epochs=max(1, round(task.profile.epochs * ADVICE_EPOCH_SHARE)))
    n_curve = len(task.size_range)
    groups = [list(range(i * task.draws, (i + 1) * task.draws)) for i in range(n_curve)]
    if task.trains_full_set:
        groups.append([n_curve * task.draws])  # the full training set's model
    parts = []
    for k, models in zip([*task.size_range, len(task.sizes)], groups, strict=False):
        rows = masks[models].any(axis=0)
        weights = fit(task.features[rows], task.target[rows], masks[models][:, rows], profile,
                      stable_seed(task.seed, "size", k), task.observed)
        parts.append(predict(weights, held_out))
    return np.concatenate(parts)
