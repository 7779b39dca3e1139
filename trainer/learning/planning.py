"""Task planning: one codec's table -> the fold tasks that judge it under LOSO."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.core.gate import LOSO_FOLD_COUNT
from trainer.core.seeds import stable_seed
from trainer.ingest.corpus import CodecData
from trainer.learning.folds import fold_masks
from trainer.learning.profiles import TrainingProfile
from trainer.learning.row_kinds import mixed_kinds
from trainer.learning.selection import profile_for
from trainer.learning.tasks import FinalTask, FoldTask


def fold_groups(profile: TrainingProfile, n_rows: int = 0) -> list[tuple[int, ...]]:
    """The folds each task trains side by side: ``folds_per_task`` at a time (the default profile: all five
    in one task), or one fold a task for a codec of ``split_folds_rows`` rows or more, so its folds share
    the workers and each verdict line arrives when its own fold ends."""
    step = profile.folds_per_task
    if profile.split_folds_rows and n_rows >= profile.split_folds_rows:
        step = 1
    return [tuple(range(start, min(start + step, LOSO_FOLD_COUNT))) for start in range(0, LOSO_FOLD_COUNT, step)]


def fold_seeds(seed: int, codec: str, folds: tuple[int, ...], profile: TrainingProfile) -> tuple[int, ...]:
    """Each fold's own seed, from (seed, codec, fold) alone; the profiles without per-fold streams keep one
    seed for the task's folds together (the reference trainer's, one fold a task, is the same number)."""
    if profile.per_fold_streams:
        return tuple(stable_seed(seed, codec, fold) for fold in folds)
    return (stable_seed(seed, codec, *folds),)


@dataclass(frozen=True)
class FoldPlan:
    """How a codec's table is judged under one seed: each fold's held-out rows and the rows models train on."""

    held_out: np.ndarray  # bool [LOSO_FOLD_COUNT, n]
    pick_rows: np.ndarray | None  # bool [n]: a mixed table's rows that state a quality, the only ones trained on


def fold_plan(data: CodecData, seed: int) -> FoldPlan:
    held_out = fold_masks(data.sources, seed, LOSO_FOLD_COUNT)
    return FoldPlan(held_out, mixed_pick_rows(data, held_out))


def mixed_pick_rows(data: CodecData, held_out: np.ndarray) -> np.ndarray | None:
    """The rows that state a quality where the codec's table holds both row kinds, else None (learning.row_kinds).

    Only where those rows could stand as a corpus of their own: at least the gate's number of sources, and
    in every fold of ``held_out`` some of them left to train on. A few clips with a CRF among bitrate
    ladders would otherwise leave a fold nothing to train on at all.
    """
    rows = mixed_kinds(data.quality_stated)
    if rows is None or np.unique(data.sources[rows]).size < LOSO_FOLD_COUNT:
        return None
    return rows if all(bool((rows & ~fold).any()) for fold in held_out) else None


def build_fold_tasks(data: CodecData, profile: TrainingProfile, seed: int, job_id: int = 0,
                     plan: FoldPlan | None = None) -> list[FoldTask]:
    """The codec's LOSO fold tasks; ``plan``: its fold plan under ``seed`` where the caller already made it."""
    plan = plan or fold_plan(data, seed)
    held_out, pick_rows = plan.held_out, plan.pick_rows
    return [
        FoldTask(
            codec=data.codec,
            fold_indices=folds,
            features=data.features,
            target=data.target,
            held_out=held_out[list(folds)],
            held_out_sources=tuple(tuple(sorted(set(data.sources[held_out[f]]))) for f in folds),
            profile=profile,
            seeds=fold_seeds(seed, data.codec, folds, profile),
            job_id=job_id,
            observed=data.observed,
            encode_kbps=data.encode_kbps,
            sources=data.sources,
            ladders=data.ladders,
            harness_probe=None if data.harness is None else data.harness.probe,
            pick_rows=pick_rows,
        )
        for folds in fold_groups(profile, data.n_rows)
    ]


def build_final_task(data: CodecData, profile: TrainingProfile, seed: int,
                     model_choice: dict[str, object] | None = None) -> FinalTask:
    """The full-corpus retrain of a codec: the model that would ship, with the candidate LOSO chose."""
    rows = fold_plan(data, seed).pick_rows  # a mixed table trains on its rows that state a quality (learning.row_kinds)
    features, target = (data.features, data.target) if rows is None else (data.features[rows], data.target[rows])
    return FinalTask(data.codec, features, target, profile_for(profile, model_choice),
                     stable_seed(seed, data.codec, "final"), data.observed)
