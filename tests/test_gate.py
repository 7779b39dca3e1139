import math

import pytest

from trainer.core import gate
from trainer.core.gate import evaluate_gate


def test_constants_are_the_adr_values():
    assert gate.SHIP_GATE_MEAN_PLCC == 0.95
    assert gate.SHIP_GATE_PLCC_SPREAD_MAX == 0.005
    assert gate.SHIP_GATE_PER_FOLD_MIN == 0.95
    assert gate.LOSO_FOLD_COUNT == 5


def test_tight_high_folds_pass():
    verdict = evaluate_gate([0.981, 0.983, 0.982, 0.984, 0.9825])
    assert verdict.passed and verdict.reasons == ()
    assert verdict.mean_plcc == pytest.approx(0.9825)


def test_low_mean_fails_citing_numbers():
    verdict = evaluate_gate([0.85] * 5)
    assert not verdict.passed
    assert "mean PLCC 0.8500 < 0.9500 (ADR-0303 part 1)" in verdict.reasons


def test_wide_spread_fails_even_with_high_mean():
    verdict = evaluate_gate([0.999, 0.99, 0.999, 0.999, 0.999])
    assert not verdict.passed
    assert verdict.reasons == ("PLCC spread 0.0090 > 0.0050 (ADR-0303 part 2)",)


def test_one_fold_just_below_floor_fails():
    verdict = evaluate_gate([0.952, 0.952, 0.952, 0.949, 0.952])
    assert not verdict.passed
    assert "per-fold PLCC < 0.9500: fold3=0.9490" in verdict.reasons


def test_values_that_round_to_the_threshold_still_show_the_difference():
    verdict = evaluate_gate([0.99, 0.99502, 0.99, 0.99, 0.99])
    assert verdict.reasons == ("PLCC spread 0.005020 > 0.0050 (ADR-0303 part 2)",)


def test_no_folds_fails():
    verdict = evaluate_gate([])
    assert not verdict.passed and verdict.reasons


@pytest.mark.parametrize("bad", [math.nan, None, math.inf])
def test_undefined_fold_is_a_failure_not_a_pass(bad):
    verdict = evaluate_gate([0.99, 0.99, bad, 0.99, 0.99])
    assert not verdict.passed
    assert "fold2" in verdict.reasons[0]


def test_too_few_folds_fails():
    assert not evaluate_gate([0.99, 0.99, 0.99, 0.99]).passed
