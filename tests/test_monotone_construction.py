"""The monotone-in-quality construction (model.weight_bounds): a proof by sweep, and its cost in fit.

Any weights inside the bounds, however large, give a prediction that never rises with quality, for
any inputs and any quality, far outside a training range too; torch and the exported ONNX alike.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.ladder_corpora import crf_ladder_rows, write_rows
from trainer.core.features import LOG_MASK, N_FEATURES, QUALITY_INPUT
from trainer.learning.model import (
    CONVEX_SPLIT,
    HIDDEN,
    MLPWeights,
    fit,
    predict,
    project_weights,
    unit_directions,
    weight_bounds,
)
from trainer.learning.profiles import DEFAULT_PROFILE
from trainer.shipping.onnx_export import build_onnx, ort_predict

# Far below and above any codec's range, and densely through 0..100.
QUALITIES = np.concatenate([-np.logspace(5, 0.8, 30), np.arange(-5.0, 105.0, 0.25), np.logspace(2.1, 5, 30)])
# Exact in real arithmetic; float32 sums may round a flat stretch up by an ulp of the output (about 1e-5 at 100).
FLOAT_SLACK = 1e-4


def _random_weights(n_models: int, seed: int, scale: float, live: torch.Tensor, monotone: bool = True) -> MLPWeights:
    gen = torch.Generator().manual_seed(seed)

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * scale

    params = [draw(n_models, N_FEATURES, HIDDEN), draw(n_models, 1, HIDDEN), draw(n_models, HIDDEN, HIDDEN),
              draw(n_models, 1, HIDDEN), draw(n_models, HIDDEN, 1) / np.sqrt(HIDDEN), draw(n_models, 1, 1)]
    project_weights(params, weight_bounds(live, monotone=monotone))
    rng = np.random.default_rng(seed)
    return MLPWeights(
        log_mask=np.repeat(LOG_MASK[None, :], n_models, axis=0),
        mean=rng.normal(0.0, 3.0, (n_models, N_FEATURES)).astype(np.float32),
        std=rng.uniform(0.1, 10.0, (n_models, N_FEATURES)).astype(np.float32),
        w1=params[0].numpy(), b1=params[1][:, 0].numpy(), w2=params[2].numpy(), b2=params[3][:, 0].numpy(),
        w3=params[4].numpy(), b3=params[5][:, 0].numpy(),
    )


def _sweeps(seed: int, n_inputs: int = 40) -> np.ndarray:
    """[n_inputs * len(QUALITIES), 14]: random raw inputs (positive and negative, up to 1e6), each swept."""
    rng = np.random.default_rng(seed + 100)
    inputs = rng.choice([-1.0, 1.0], (n_inputs, N_FEATURES)) * 10.0 ** rng.uniform(-2, 6, (n_inputs, N_FEATURES))
    sweep = np.repeat(inputs, QUALITIES.size, axis=0)
    sweep[:, QUALITY_INPUT] = np.tile(QUALITIES, n_inputs)
    return sweep.astype(np.float32)


def _curves(predictions: np.ndarray) -> np.ndarray:
    return np.asarray(predictions, dtype=np.float64).reshape(-1, QUALITIES.size)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("scale", [0.3, 3.0, 30.0])
def test_any_weights_inside_the_bounds_never_rise_with_quality_in_torch_or_onnx(seed, scale):
    live = torch.ones(3, N_FEATURES, dtype=torch.bool)
    live[1, 5:10] = False  # dead inputs change nothing about the quality path
    weights = _random_weights(3, seed, scale, live)
    sweep = _sweeps(seed)
    torch_curves = _curves(predict(weights, sweep))
    assert np.diff(torch_curves, axis=1).max() <= FLOAT_SLACK
    assert (np.ptp(torch_curves, axis=1) > 1.0).mean() > 0.5, "the sweeps must move the prediction to prove anything"
    for index in range(3):
        onnx_curves = _curves(ort_predict(build_onnx(weights.select(index), "libx264"), sweep)[:, 0])
        assert np.diff(onnx_curves, axis=1).max() <= FLOAT_SLACK


def test_the_same_weights_without_the_sign_bounds_do_rise_so_the_sweep_can_see_a_violation():
    live = torch.ones(2, N_FEATURES, dtype=torch.bool)
    weights = _random_weights(2, seed=0, scale=3.0, live=live, monotone=False)
    assert np.diff(_curves(predict(weights, _sweeps(0))), axis=1).max() > 1.0


def test_hidden_units_are_split_into_decreasing_increasing_and_blind_and_dead_quality_is_free():
    directions = unit_directions()
    assert set(directions.tolist()) == {-1.0, 0.0, 1.0}
    live = torch.ones(2, N_FEATURES, dtype=torch.bool)
    live[1, QUALITY_INPUT] = False
    (low1, high1), (low2, high2), (low3, high3) = weight_bounds(live)
    decreasing, increasing, blind = (directions == -1), (directions == 1), (directions == 0)
    assert (high1[0, QUALITY_INPUT, decreasing] == 0).all() and (low1[0, QUALITY_INPUT, increasing] == 0).all()
    assert (low1[0, QUALITY_INPUT, blind] == 0).all() and (high1[0, QUALITY_INPUT, blind] == 0).all()
    assert (low2[0][np.ix_(increasing, decreasing)] == -np.inf).all()
    assert (high2[0][np.ix_(increasing, decreasing)] == 0).all()  # an increasing unit lowers a decreasing one
    assert (low3[0, decreasing] == 0).all() and (high3[0, increasing] == 0).all()
    assert (low3[0, blind] == -np.inf).all() and (high3[0, blind] == np.inf).all()
    assert (low1[1, QUALITY_INPUT] == 0).all() and (high1[1, QUALITY_INPUT] == 0).all()  # dead: pinned
    for low, high in ((low2, high2), (low3, high3)):
        assert (low[1] == -np.inf).all() and (high[1] == np.inf).all()  # no quality: every other weight free


def test_the_curves_models_keep_decreasing_units_only_and_the_same_sweep_never_rises():
    """The content-blind curve keeps the narrower class (logit convex in quality): in one batch, a
    model flagged convex gets no increasing unit, the other gets both kinds."""
    live = torch.ones(2, N_FEATURES, dtype=torch.bool)
    (low1, high1), (low2, _high2), (low3, high3) = weight_bounds(live, convex=torch.tensor([False, True]))
    narrow = unit_directions(CONVEX_SPLIT)
    assert int((narrow == 1).sum()) == 0 and int((narrow == -1).sum()) == HIDDEN // 2
    half = HIDDEN // 2
    assert (high1[1, QUALITY_INPUT, :half] == 0).all() and (low1[1, QUALITY_INPUT, :half] == -np.inf).all()
    assert (low1[1, QUALITY_INPUT, half:] == 0).all() and (high1[1, QUALITY_INPUT, half:] == 0).all()
    assert (low3[1, :half] == 0).all() and (high3[1, half:] == np.inf).all()
    assert (low1[0, QUALITY_INPUT] == 0).any()  # the other model has increasing units (w >= 0 from quality)
    assert torch.equal(low2[0], weight_bounds(live[:1])[1][0][0])


# Held-out RMSE of the constrained network may exceed the unconstrained one's by at most this factor.
# Measured (seed 0): constrained 1.27, unconstrained 1.31; the decreasing-units-only construction this
# one replaced scored 2.25 here, so it failed the bar.
CONSTRAINT_COST_MAX = 1.15


@pytest.mark.slow  # trains 2 x 4 folds of the default network (about 10 s with -n 0)
def test_on_the_crf_ladder_corpus_the_constraint_costs_little_against_the_unconstrained_network(tmp_path):
    from trainer.ingest.corpus import load_corpus

    data = load_corpus([write_rows(tmp_path / "ladders.jsonl", crf_ladder_rows())]).for_codec(
        "libx264")
    sources = np.unique(data.sources)
    held = [np.isin(data.sources, sources[k::4]) for k in range(4)]
    masks = np.stack([~h for h in held])
    errors = {}
    for monotone in (True, False):
        weights = fit(data.features, data.target, masks, DEFAULT_PROFILE, seed=0, observed=data.observed,
                      monotone=monotone)
        predictions = predict(weights, data.features)
        squared = np.concatenate([(predictions[k][h] - data.target[h]) ** 2 for k, h in enumerate(held)])
        errors[monotone] = float(np.sqrt(squared.mean()))
    assert errors[True] <= CONSTRAINT_COST_MAX * errors[False], errors
