"""The agreement metrics: Spearman's ranks computed with numpy equal scipy's, ties and all."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata, spearmanr

from trainer.learning.metrics import average_ranks, srocc


@pytest.mark.parametrize("seed", range(5))
def test_average_ranks_equal_scipys_on_random_data_with_many_ties(seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 12, size=200).astype(np.float64)  # many ties, as rounded VMAF scores have
    np.testing.assert_array_equal(average_ranks(values), rankdata(values))
    continuous = rng.normal(size=57)
    np.testing.assert_array_equal(average_ranks(continuous), rankdata(continuous))


def test_srocc_is_spearmans_rho_and_nan_where_undefined():
    rng = np.random.default_rng(7)
    pred, target = rng.normal(size=80), rng.normal(size=80).round(1)
    assert srocc(pred, target) == pytest.approx(spearmanr(pred, target).statistic, abs=1e-12)
    assert np.isnan(srocc(np.array([1.0]), np.array([2.0])))
    assert np.isnan(srocc(np.array([1.0, np.nan, 3.0]), np.array([1.0, 2.0, 3.0])))
    assert np.isnan(srocc(np.ones(5), np.arange(5.0)))  # a constant side has no rank order
