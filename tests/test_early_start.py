"""The fork server starts before the CLI's imports only where the run will train on the local pool."""

from __future__ import annotations

import pytest

from trainer.executors.early_start import will_use_local_pool


@pytest.mark.parametrize("argv, expected", [
    (["--corpus", "c.jsonl"], True),
    (["--corpus", "c.jsonl", "--codec", "libx264", "--yes"], True),
    (["--help"], False),
    (["-h"], False),
    (["--version"], False),
    (["--restore", "20261205T000000Z"], False),
    (["--write-stubs"], False),
    (["--corpus", "c.jsonl", "--scheduler", "tcp://h:8786"], False),
    (["--corpus", "c.jsonl", "--scheduler=local:2"], False),
    (["--review", "runs/report.json"], False),
])
def test_the_guess_follows_the_arguments(argv, expected):
    assert will_use_local_pool(argv, {}) is expected


def test_a_scheduler_from_the_environment_means_no_local_pool():
    assert not will_use_local_pool(["--corpus", "c.jsonl"], {"DASK_SCHEDULER_ADDRESS": "tcp://h:8786"})
    assert will_use_local_pool(["--corpus", "c.jsonl"], {"DASK_SCHEDULER_ADDRESS": "  "})
