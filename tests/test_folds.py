import numpy as np

from trainer.learning.folds import assign_source_folds, fold_masks
from trainer.learning.results import untrainable_result


def test_each_source_held_out_exactly_once_and_never_trained_on():
    sources = np.array([f"s{i % 7}" for i in range(70)])
    held = fold_masks(sources, seed=3)
    assert held.shape == (5, 70)
    assert (held.sum(axis=0) == 1).all()
    for fold in held:
        assert not set(sources[fold]) & set(sources[~fold])


def test_dominant_source_stays_whole():
    sources = np.array(["big"] * 900 + [f"s{i}" for i in range(5) for _ in range(20)])
    held = fold_masks(sources, seed=0)
    big_folds = {int(np.argmax(held[:, i])) for i in np.flatnonzero(sources == "big")}
    assert len(big_folds) == 1
    for fold in held:
        assert not set(sources[fold]) & set(sources[~fold])


def test_assignment_is_sorted_shuffled_round_robin_and_seeded():
    srcs = [f"src{i}" for i in range(12)]
    a = assign_source_folds(reversed(srcs), seed=5)
    assert a == assign_source_folds(srcs, seed=5)
    counts = np.bincount(list(a.values()), minlength=5)
    assert counts.tolist() == [3, 3, 2, 2, 2]
    assert any(assign_source_folds(srcs, seed=s) != a for s in range(6, 10))


def test_fewer_than_five_sources_is_insufficient():
    result = untrainable_result("libx264", 40, 4, [])
    assert result is not None and result.status == "insufficient-sources"
    assert untrainable_result("libx264", 0, 0, []).status == "missing-rows"
    assert untrainable_result("libx264", 40, 5, []) is None
