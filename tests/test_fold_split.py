"""A codec's folds as separate tasks (issue #36): each fold's model comes from its own seed, so splitting a
codec's folds across tasks and workers does not change what they learn; large tables train on a row budget."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trainer.core.seeds import stable_seed
from trainer.ingest.synthetic import synthetic_codec_data
from trainer.learning.folds import fold_masks
from trainer.learning.model import fit, predict
from trainer.learning.planning import build_fold_tasks, fold_groups, fold_seeds
from trainer.learning.profiles import DEFAULT_PROFILE, NESTED_PROFILE, REFERENCE_PROFILE
from trainer.learning.tasks import run_fold_task

# Batched and lone models agree up to float rounding: elementwise kernels (sigmoid, Adam) round a vector lane
# differently from a tail element, so a tensor of five models is not bit for bit five tensors of one, and
# training carries the last-bit differences along (measured: at most 0.09 VMAF on any row). Models with another
# seed differ by whole VMAF points, so the bound still tells a fold's own stream from a shared one.
SPLIT_TOLERANCE_VMAF = 0.25


def test_a_fold_seed_depends_on_seed_codec_and_fold_alone():
    assert fold_seeds(3, "libx264", (0, 1, 2, 3, 4), DEFAULT_PROFILE) == tuple(
        stable_seed(3, "libx264", f) for f in range(5))
    assert fold_seeds(3, "libx264", (2,), DEFAULT_PROFILE) == (stable_seed(3, "libx264", 2),)
    # the reference trainer keeps its one seed per one-fold task: the same number as before
    assert fold_seeds(3, "libx264", (2,), REFERENCE_PROFILE) == (stable_seed(3, "libx264", 2),)


def test_large_tables_split_into_one_fold_a_task_and_small_ones_stay_batched():
    assert fold_groups(DEFAULT_PROFILE, 9_999) == [(0, 1, 2, 3, 4)]
    assert fold_groups(DEFAULT_PROFILE, DEFAULT_PROFILE.split_folds_rows) == [(0,), (1,), (2,), (3,), (4,)]
    assert fold_groups(REFERENCE_PROFILE, 10**6) == [(0,), (1,), (2,), (3,), (4,)]


@pytest.mark.slow
@pytest.mark.parametrize("profile", [DEFAULT_PROFILE, NESTED_PROFILE])
def test_folds_learn_the_same_model_alone_as_side_by_side(profile):
    """Plain training (3,000 rows) and nested model choice (480 rows): split or batched, the same folds."""
    n_sources, per_source = (30, 100) if profile is DEFAULT_PROFILE else (12, 40)
    data = synthetic_codec_data("libx264", n_sources, per_source, 0.7, 3)
    batched = dataclasses.replace(profile, epochs=12, split_folds_rows=0)
    split = dataclasses.replace(batched, split_folds_rows=1)
    together = [r for task in build_fold_tasks(data, batched, 0) for r in run_fold_task(task)]
    tasks = build_fold_tasks(data, split, 0)
    assert [t.fold_indices for t in tasks] == [(0,), (1,), (2,), (3,), (4,)]
    alone = [r for task in reversed(tasks) for r in run_fold_task(task)][::-1]  # any order
    for a, b in zip(together, alone, strict=True):
        assert a.fold_index == b.fold_index
        assert (a.model_choice is None) == (b.model_choice is None)
        if a.model_choice is not None:
            assert a.model_choice.chosen == b.model_choice.chosen
        assert np.abs(a.predictions - b.predictions).max() <= SPLIT_TOLERANCE_VMAF
        assert a.plcc == pytest.approx(b.plcc, abs=1e-3)


def test_one_seed_per_model_gives_the_lone_model_its_own_row_order_over_the_whole_table():
    """With per-model seeds a model is its seed's model, whichever others train beside it."""
    data = synthetic_codec_data("libx264", 10, 30, 0.7, 1)
    train = ~fold_masks(data.sources, 0)
    profile = dataclasses.replace(DEFAULT_PROFILE, epochs=3)
    pair = predict(fit(data.features, data.target, train[[1, 3]], profile, [7, 9], data.observed), data.features)
    other = predict(fit(data.features, data.target, train[[3, 1]], profile, [9, 7], data.observed), data.features)
    assert np.abs(pair[0] - other[1]).max() <= SPLIT_TOLERANCE_VMAF
    with pytest.raises(ValueError, match="2 seeds for 3 models"):
        fit(data.features, data.target, train[:3], profile, [1, 2], data.observed)


def test_the_row_budget_cuts_epochs_only_for_large_tables_and_keeps_the_steps():
    p = DEFAULT_PROFILE
    untouched = p.max_row_visits // p.epochs
    for n_rows in (70, 448, 4_000, 17_500, untouched):  # NFLX, the real sweep, M, YT-UGC: never touched
        assert p.epochs_for(n_rows) == p.epochs
    assert p.epochs_for(1_000_000) == 10
    assert p.epochs_for(10**8) == 5  # every row is still seen a few times
    full_steps = 1_000_000 / p.batch_and_lr(1_000_000)[0] * p.epochs_for(1_000_000)
    unbudgeted = dataclasses.replace(p, max_row_visits=0)
    assert full_steps == pytest.approx(1_000_000 / unbudgeted.batch_and_lr(1_000_000)[0] * p.epochs, rel=0.5)
    assert REFERENCE_PROFILE.epochs_for(10**6) == REFERENCE_PROFILE.epochs
