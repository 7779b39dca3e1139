"""The model fit: weight decay shrinks the weight matrices by exactly e^-shrink, however few the steps."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from trainer.core.features import N_FEATURES
from trainer.learning.model import (
    HIDDEN,
    _init_layer,
    _learning_rate,
    decay_factors,
    fit,
    project_weights,
    weight_bounds,
)
from trainer.learning.profiles import DEFAULT_PROFILE, REFERENCE_PROFILE


@pytest.mark.parametrize("profile", [DEFAULT_PROFILE, dataclasses.replace(REFERENCE_PROFILE, shrink=6.0)])
@pytest.mark.parametrize("epochs", [1, 2, 3, 100])
@pytest.mark.parametrize("steps_per_epoch", [1, 2, 7])
def test_decay_factors_lie_in_0_1_and_multiply_to_exactly_e_to_the_minus_shrink(profile, epochs, steps_per_epoch):
    total = epochs * steps_per_epoch
    schedule = [_learning_rate(profile, 5e-3, step, total) for step in range(total)]
    factors = decay_factors(schedule, profile.shrink)
    assert len(factors) == total
    assert all(0.0 < f <= 1.0 for f in factors)
    assert abs(math.prod(factors) - math.exp(-profile.shrink)) <= 1e-6
    assert decay_factors(schedule, 0.0) == []


@pytest.mark.parametrize(("epochs", "n_rows"), [(1, 20), (2, 20), (1, 60), (2, 60)])
def test_with_no_learning_signal_decay_alone_scales_every_weight_by_e_to_the_minus_shrink(epochs, n_rows):
    """A vanishing learning rate leaves decay as the only change: no sign flips, the exact total factor."""
    rng = np.random.default_rng(3)
    features = rng.uniform(1.0, 100.0, size=(n_rows, N_FEATURES)).astype(np.float32)
    target = rng.uniform(20.0, 80.0, size=n_rows).astype(np.float32)
    profile = dataclasses.replace(DEFAULT_PROFILE, epochs=epochs, learning_rate=1e-12)
    seed = 5
    trained = fit(features, target, np.ones((1, n_rows), dtype=bool), profile, seed)
    gen = torch.Generator().manual_seed(seed)  # fit draws its initial weights first, from this generator
    initial = [_init_layer(1, fan_in, fan_out, gen)
               for fan_in, fan_out in ((N_FEATURES, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, 1))]
    # Every input varies here, quality included: the monotone quality path's sign bounds apply from the start.
    project_weights([p for layer in initial for p in layer], weight_bounds(torch.ones(1, N_FEATURES, dtype=torch.bool)))
    shrink = math.exp(-profile.shrink)
    for (w0, _b0), w in zip(initial, (trained.w1, trained.w2, trained.w3), strict=True):
        w0 = w0.detach().numpy()
        moving = w0 != 0  # a weight held at a bound of 0 may take a 1e-12 Adam step off it
        assert (np.sign(w[moving]) == np.sign(w0[moving])).all(), "decay flipped a weight's sign"
        np.testing.assert_allclose(w, w0 * shrink, rtol=1e-4, atol=1e-9)


def test_rows_far_below_the_harness_targets_count_less_only_in_models_that_search_quality():
    from trainer.learning.model import _row_weights

    target = torch.tensor([95.0, 70.0, 69.9, 30.0])
    weights = _row_weights(target, torch.tensor([True, False]), DEFAULT_PROFILE)
    assert weights.tolist() == [[1.0, 1.0, 0.25, 0.25], [1.0, 1.0, 1.0, 1.0]]
    assert (_row_weights(target, torch.tensor([True]), REFERENCE_PROFILE) == 1.0).all(), "the reference is plain MSE"
