"""Nested LOSO model choice: the outer held-out sources never influence which candidate a fold gets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trainer.learning.folds import fold_masks
from trainer.learning.nested_fit import fit_with_choice
from trainer.learning.profiles import NESTED_PROFILE
from trainer.learning.selection import (
    CANDIDATE_SHRINKS,
    FoldChoice,
    best_candidate,
    candidate_name,
    candidates,
    final_choice,
    inner_held_out,
    profile_for,
)


def _corpus(n_sources: int = 8, rows: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sources = np.repeat([f"s{i}" for i in range(n_sources)], rows)
    features = np.zeros((sources.size, 14), dtype=np.float32)
    features[:, 0] = np.tile(np.linspace(18, 45, rows), n_sources)
    features[:, 1] = np.repeat(rng.uniform(500, 5000, n_sources), rows)
    features[:, 11], features[:, 12], features[:, 13] = 24.0, 1920.0, 1080.0
    target = (100 - 1.5 * (features[:, 0] - 18) + 3 * np.log(features[:, 1] / 500)).clip(0, 100).astype(np.float32)
    return features, target, sources


def test_inner_folds_cover_exactly_the_training_rows_and_keep_sources_whole():
    _features, _target, sources = _corpus()
    outer = fold_masks(sources, seed=1)
    train = ~outer[0]
    inner = inner_held_out(sources, train, seed=2)
    assert inner.shape[0] >= 3
    assert not (inner & ~train).any(), "an outer held-out row reached an inner fold"
    assert (inner.sum(0) == train.astype(int)).all(), "every training row is held out by exactly one inner fold"
    for held in inner:
        assert not set(sources[held]) & set(sources[train & ~held])


def test_too_few_training_sources_give_no_inner_folds():
    sources = np.array(["a", "a", "b", "c"])
    assert inner_held_out(sources, np.array([True, True, True, False]), seed=0).shape[0] == 0


def test_the_lowest_score_wins_and_ties_go_to_the_weaker_decay():
    assert best_candidate({"shrink=2": 5.0, "shrink=6": 4.0, "shrink=20": None}) == "shrink=6"
    assert best_candidate({"shrink=2": 4.0, "shrink=6": 4.0}) == "shrink=2"
    assert best_candidate({"shrink=2": None, "shrink=6": float("nan")}) is None


def test_the_final_model_takes_the_lowest_mean_outer_rmse():
    choices = [FoldChoice("shrink=2", {}, {"shrink=2": 3.0, "shrink=6": 2.0}),
               FoldChoice("shrink=6", {}, {"shrink=2": 3.0, "shrink=6": 5.0})]
    final = final_choice(choices)
    assert final == {"chosen": "shrink=2", "criterion": "rmse", "mean_outer_rmse": {"shrink=2": 3.0, "shrink=6": 3.5}}
    assert profile_for(NESTED_PROFILE, final).shrink == 2.0
    assert profile_for(NESTED_PROFILE, None) is NESTED_PROFILE


@pytest.mark.usefixtures("one_torch_thread")
def test_a_folds_choice_ignores_its_outer_held_out_targets():
    features, target, sources = _corpus()
    held_out = fold_masks(sources, seed=3)[:2]
    profile = dataclasses.replace(NESTED_PROFILE, epochs=8)
    offered = candidates(profile, line_allowed=False)
    _weights, choices = fit_with_choice(features, target, held_out, (0, 1), sources, profile, 7, None, offered)
    assert [set(c.inner_rmse) for c in choices] == [{candidate_name(s) for s in CANDIDATE_SHRINKS}] * 2
    assert all(c.chosen in c.inner_rmse for c in choices)

    poisoned = target.copy()
    poisoned[held_out[0]] = 100.0 - poisoned[held_out[0]]  # only fold 0's held-out rows change
    _weights, again = fit_with_choice(features, poisoned, held_out, (0, 1), sources, profile, 7, None, offered)
    assert again[0].chosen == choices[0].chosen
    assert again[0].inner_rmse == choices[0].inner_rmse
    assert again[0].outer_rmse != choices[0].outer_rmse  # the poison was seen where it may be: the outer score


def _rmse_choice(chosen: str, by_source: dict[str, dict[str, float]]) -> FoldChoice:
    return FoldChoice(chosen, {}, {name: float(np.mean(list(e.values()))) for name, e in by_source.items()},
                      simplest_first=("line-bpp", "line", "shrink=6"), inner_source_rmse={"line-bpp": 1.0},
                      inner_rmse_se=0.1, outer_rmse_by_source=by_source)


def test_without_picks_per_source_rmse_chooses_by_the_lowest_mean_and_records_the_others():
    """Bitrate ladders: per-source RMSE decides by the lowest mean (issue #37), so a line 0.4 VMAF worse on
    average is out either way. The paired rule, recorded beside it, drops the line that is worse on every
    source and keeps the one that trades sources with the network; the one-SE rule takes the line both times."""
    rng = np.random.default_rng(3)
    per_source = rng.uniform(8, 30, 12)  # real ladders: some sources are far harder than others
    swing = rng.normal(0.0, 2.0, 12)
    swing -= swing.mean() - 0.4
    for line_errors, expected in ((per_source + 0.4, "shrink=6"), (per_source + swing, "line-bpp")):
        close = {"line-bpp": dict(enumerate(line_errors)), "line": dict(enumerate(per_source + 0.8)),
                 "shrink=6": dict(enumerate(per_source))}
        close = {name: {f"s{i}": v for i, v in errors.items()} for name, errors in close.items()}
        halves = [{n: dict(list(e.items())[:6]) for n, e in close.items()},
                  {n: dict(list(e.items())[6:]) for n, e in close.items()}]
        choice = final_choice([_rmse_choice("shrink=6", half) for half in halves])
        assert choice is not None and choice["criterion"] == "rmse" and choice["rule"] == "lowest"
        assert choice["chosen"] == "shrink=6" and choice["rule_choices"]["paired"] == expected
        assert choice["rule_choices"]["one-se"] == "line-bpp"  # the old rule takes the line both times


def test_an_rmse_choice_reads_back_from_its_report_and_gives_the_same_final_model():
    by_source = {"line-bpp": {"a": 3.0, "b": 5.0, "c": 4.0}, "line": {"a": 2.0, "b": 6.0, "c": 4.5},
                 "shrink=6": {"a": 2.5, "b": 4.0, "c": 4.2}}
    choice = _rmse_choice("line", by_source)
    back = FoldChoice.from_report(choice.as_report())
    assert back == choice
    assert final_choice([back]) == final_choice([choice])
    with pytest.raises(TypeError, match="outer_rmse_by_source"):
        FoldChoice.from_report({**choice.as_report(), "outer_rmse_by_source": [1, 2]})
