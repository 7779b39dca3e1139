"""The chaos suite: batch runs that each get one ``kill -9`` at a seeded random moment (issue 28).

Pool runs kill a pool worker or the fork server; Dask runs (a scheduler and two workers started
by hand) kill a Dask worker process. Every run must end 0 or 1 with a report, no traceback and no
process left, and every codec not ``error`` must match a clean run (verdict, fold PLCC within 1e-3).
Stricter than the fault model: one kill is within every retry budget, so no codec may be ``error``.

The normal suite runs a few; ``-m chaos`` runs the large set (20 pool, 10 Dask). Replay one with
``CHAOS_SEED=<seed> pytest -m chaos tests/test_chaos.py -k '<backend> and <index>'``.
"""

from __future__ import annotations

import random
import signal
import time

import pytest

from tests import chaos
from tests.hand_cluster import DASK, start_logged, start_scheduler, stop_groups

pytestmark = pytest.mark.slow  # whole batches with a kill each (the big set is also "chaos")

QUICK_POOL, QUICK_DASK = 2, 1
CHAOS_POOL, CHAOS_DASK = 20, 10


@pytest.fixture(scope="module")
def pool_clean(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pool-clean")
    argv, out = chaos.batch_argv(tmp, "--workers", "2")
    outcome = chaos.run_with_kill(argv, out, None, None, random.Random(0))
    assert outcome.returncode in (0, 1) and outcome.report is not None, outcome.stderr
    return chaos.verdicts(outcome.report), outcome.seconds


def _pool_run(tmp_path, pool_clean, index: int) -> None:
    clean, clean_seconds = pool_clean[0], chaos.clean_scale(pool_clean[1])
    kind, moment = chaos.plan_for("pool", index, clean_seconds)
    label = (f"chaos pool run {index} (CHAOS_SEED={chaos.CHAOS_SEED}, CHAOS_CLEAN_SECONDS={clean_seconds:.2f}): "
             f"kill -9 a {kind} at {moment:.2f} s")
    print(label, flush=True)
    argv, out = chaos.batch_argv(tmp_path, "--workers", "2")
    rng = random.Random(f"{chaos.CHAOS_SEED}-pool-{index}-victim")
    outcome = chaos.run_with_kill(argv, out, moment, lambda pid: chaos.pool_victims(pid, kind), rng)
    print(f"  killed {outcome.killed}; exit {outcome.returncode} after {outcome.seconds:.1f} s", flush=True)
    assert chaos.check(outcome, clean, label) == []


class _HandCluster:
    """A scheduler and two workers (with nannies), as an operator starts them."""

    def __init__(self, directory) -> None:
        from distributed import Client

        self.scheduler, self.address = start_scheduler(directory, idle_timeout="300s")
        self.processes = [self.scheduler]
        for n in range(2):
            self.processes.append(start_logged([str(DASK), "worker", self.address, "--nthreads", "1",
                                                "--no-dashboard", "--death-timeout", "60"],
                                               directory / f"worker{n}.log"))
        with Client(self.address, timeout="30s") as probe:
            probe.wait_for_workers(2, timeout=90)

    @property
    def nannies(self) -> list[int]:
        return [p.pid for p in self.processes[1:]]

    def stop(self) -> None:
        stop_groups(self.processes, signal.SIGKILL)


@pytest.fixture(scope="module")
def dask_clean(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dask-clean")
    cluster = _HandCluster(tmp)
    try:
        argv, out = chaos.batch_argv(tmp, "--scheduler", cluster.address)
        outcome = chaos.run_with_kill(argv, out, None, None, random.Random(0))
    finally:
        cluster.stop()
    assert outcome.returncode in (0, 1) and outcome.report is not None, outcome.stderr
    return chaos.verdicts(outcome.report), outcome.seconds


def _dask_run(tmp_path, dask_clean, index: int) -> None:
    clean, clean_seconds = dask_clean[0], chaos.clean_scale(dask_clean[1])
    kind, moment = chaos.plan_for("dask", index, clean_seconds)
    label = (f"chaos dask run {index} (CHAOS_SEED={chaos.CHAOS_SEED}, CHAOS_CLEAN_SECONDS={clean_seconds:.2f}): "
             f"kill -9 a {kind} at {moment:.2f} s")
    print(label, flush=True)
    cluster = _HandCluster(tmp_path)
    try:
        argv, out = chaos.batch_argv(tmp_path, "--scheduler", cluster.address)
        rng = random.Random(f"{chaos.CHAOS_SEED}-dask-{index}-victim")
        started = time.monotonic()
        outcome = chaos.run_with_kill(argv, out, moment, lambda _pid: chaos.dask_victims(cluster.nannies), rng)
    finally:
        cluster.stop()
    print(f"  killed {outcome.killed}; exit {outcome.returncode} after {time.monotonic() - started:.1f} s",
          flush=True)
    assert chaos.check(outcome, clean, label) == []


@pytest.mark.parametrize("index", range(QUICK_POOL))
def test_pool_quick(tmp_path, pool_clean, index):
    _pool_run(tmp_path, pool_clean, index)


@pytest.mark.parametrize("index", range(QUICK_DASK))
def test_dask_quick(tmp_path, dask_clean, index):
    _dask_run(tmp_path, dask_clean, index)


@pytest.mark.chaos
@pytest.mark.parametrize("index", range(CHAOS_POOL))
def test_pool_chaos(tmp_path, pool_clean, index):
    _pool_run(tmp_path, pool_clean, 100 + index)


@pytest.mark.chaos
@pytest.mark.parametrize("index", range(CHAOS_DASK))
def test_dask_chaos(tmp_path, dask_clean, index):
    _dask_run(tmp_path, dask_clean, 100 + index)
