"""The advisor against a known answer: on the first 8 sources of a corpus whose gate crosses at 20, its range holds 20.

The true crossing was measured by the real gate (the engine's fold tasks; ``python -m trainer`` on
the first 20 sources, seed 0, gives the same mean 0.9963 and spread 0.0058) on the first n sources
of ``tests.known_answer_corpus``, seeds 0-4, with ``PYTHONPATH=. python -m tests.known_answer_corpus``:

    sources   8: 0/5 pass      sources 20: 4/5      sources 32: 5/5
    sources  12: 3/5 pass      sources 24: 4/5      sources 40: 5/5
    sources  16: 0/5 pass

The crossing is the smallest grid size from which the gate passes in at least 3 of 5 seeds at that
size and every larger one: 20. (12 passes 3/5 by luck of which sources come 9th-12th; 16 adds a
source on a steep part of the wave and fails 5/5, so 12 is not "from which".)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.known_answer_corpus import SEEDS, load_first
from trainer.learning.advice_task import run_advice_task
from trainer.learning.advisor import assemble_advice, plan_advice
from trainer.learning.profiles import DEFAULT_PROFILE

TRUE_CROSSING = 20
ADVISED_SOURCES = 8


def contains(needed: dict[str, int | None], crossing: int) -> bool:
    """Inside the range; an open upper end ("low or more, some never") counts only when low is below the crossing."""
    low, high = needed["low"], needed["high"]
    if low is None:
        return False
    return low <= crossing and (high is None or crossing <= high)


@pytest.mark.slow
def test_the_advice_range_on_8_sources_contains_the_measured_crossing(tmp_path: Path, one_torch_thread):
    data = load_first(ADVISED_SOURCES, tmp_path)
    verdicts, held = [], []
    for seed in SEEDS:
        tasks = plan_advice(data, DEFAULT_PROFILE, seed)
        advice = assemble_advice(data, tasks, [run_advice_task(task) for task in tasks], seed)
        verdicts.append(advice["verdict"])
        held.append(contains(advice["sources_needed"], TRUE_CROSSING))
    assert verdicts == ["more-sources-likely-enough"] * len(SEEDS)
    # A 10th-90th percentile range may miss now and then: measured, seeds 0, 2, 3, 4 hold 20 (9-38, 9 or more,
    # 9-55, 10-32) and seed 1 does not (8-15). Every point estimate (9-13) is below 20: see docs/advisor.md.
    assert sum(held) >= len(SEEDS) - 1, held
