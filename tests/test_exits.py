"""Exit codes come from one table: outcome and exception type to code, the same for both faces."""

from __future__ import annotations

import signal

import pytest

from trainer.core.atomic import OutputUnwritable
from trainer.executors.dask_cluster import ClusterUnavailable
from trainer.run.errors import ConfigError, InternalError
from trainer.run.exits import (
    EXIT_CONFIG,
    EXIT_INTERNAL,
    EXIT_NOT_ALL_PASS,
    EXIT_OK,
    EXPECTED_ERRORS,
    exit_for_exception,
    exit_for_outcome,
)
from trainer.shipping.lock import ModelDirLocked, PromotionError


@pytest.mark.parametrize("exc", [ConfigError("x"), OutputUnwritable("x"), ModelDirLocked("x"), PromotionError("x"),
                                 ClusterUnavailable("x")])
def test_usage_configuration_and_environment_errors_are_exit_2(exc):
    assert exit_for_exception(exc) == EXIT_CONFIG
    assert isinstance(exc, EXPECTED_ERRORS)


def test_a_bug_is_70_and_ctrl_c_before_the_handlers_is_130():
    assert exit_for_exception(InternalError("x")) == EXIT_INTERNAL
    assert exit_for_exception(RuntimeError("x")) == EXIT_INTERNAL
    assert not isinstance(RuntimeError("x"), EXPECTED_ERRORS)
    assert exit_for_exception(KeyboardInterrupt()) == 128 + signal.SIGINT


def test_the_gravest_outcome_wins():
    assert exit_for_outcome(2, 2) == EXIT_OK
    assert exit_for_outcome(1, 2) == EXIT_NOT_ALL_PASS
    assert exit_for_outcome(0, 0) == EXIT_NOT_ALL_PASS  # nothing selected never passes
    assert exit_for_outcome(2, 2, promotion_failed=True) == EXIT_CONFIG
    assert exit_for_outcome(2, 2, promotion_failed=True, signal_exit=143) == 143
    assert exit_for_outcome(2, 2, promotion_failed=True, signal_exit=143, internal_error=True) == EXIT_INTERNAL
