"""The advisor on a large corpus (issue #36): each curve size trains on its own rows, a fold splits into two
tasks of about equal cost, and the parts merge back into the one curve the report shows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trainer.ingest.synthetic import synthetic_codec_data
from trainer.learning.advice_task import WHOLE_TABLE_SOURCES, merge_parts, run_advice_task, splits_folds
from trainer.learning.advisor import assemble_advice, plan_advice
from trainer.learning.profiles import DEFAULT_PROFILE

PROFILE = dataclasses.replace(DEFAULT_PROFILE, epochs=4)


def test_small_corpora_keep_one_task_per_fold_over_the_whole_table():
    data = synthetic_codec_data("libx264", 20, 10, 0.7, 1)
    tasks = plan_advice(data, PROFILE, 0)
    assert len(tasks) == 5 and all(t.part is None and not splits_folds(t) for t in tasks)


@pytest.mark.slow
def test_a_large_corpus_splits_each_fold_in_two_parts_that_merge_into_one_curve():
    data = synthetic_codec_data("libx264", WHOLE_TABLE_SOURCES * 2, 3, 0.7, 1)
    tasks = plan_advice(data, PROFILE, 0)
    assert len(tasks) == 10
    for fold in range(5):
        first, second = (t for t in tasks if t.fold_index == fold)
        assert first.part[0] == 0 and first.part[1] == second.part[0] and second.part[1] == len(first.sizes)
        assert not first.trains_full_set and second.trains_full_set
    outcomes = [run_advice_task(task) for task in tasks]
    merged = merge_parts(outcomes)
    assert [o.fold_index for o in merged] == [0, 1, 2, 3, 4]
    assert all(o.plcc.shape == (len(tasks[0].sizes), tasks[0].draws) for o in merged)
    assert all(o.errors for o in merged)  # every fold's held-out sources, from the full-set model
    advice = assemble_advice(data, tasks, outcomes, 0)
    assert [p["n_sources"] for p in advice["curve"]] == list(tasks[0].sizes)
    assert np.isfinite([p["mean_plcc"] for p in advice["curve"]]).all()
    assert {s["src"] for s in advice["sources"]} == set(data.sources.tolist())
