"""Picklable pieces the Dask tests send to real workers (importable there: the workers share sys.path)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np


@dataclasses.dataclass(frozen=True)
class SlowTask:
    """Shaped like an engine task as far as DaskExecutor cares: a table (features, target) and a label."""

    index: int
    features: np.ndarray
    target: np.ndarray
    seconds: float = 0.4


def slow_sum(task: SlowTask) -> tuple[int, float]:
    time.sleep(task.seconds)
    return task.index, float(task.features.sum() + task.target.sum())
