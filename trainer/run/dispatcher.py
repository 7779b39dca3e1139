"""The dispatcher: tasks waiting, tasks in flight, and how many may run at once.

No locks of its own (the engine holds one around it) and no waiting: ``done`` takes the futures
the engine's wait returned. Futures it no longer knows (a broken executor already stranded
them) are ignored, so one break is never reported twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any

from trainer.executors.host import ExecutorHost
from trainer.learning.tasks import FinalTask, FoldTask, run_final_task, run_fold_task

Task = FoldTask | FinalTask


def runner_of(task: Task) -> Callable[[Any], Any]:
    return run_fold_task if isinstance(task, FoldTask) else run_final_task


class Dispatcher:
    def __init__(self, host: ExecutorHost, capacity: int) -> None:
        self.host = host
        self.capacity = max(1, capacity)
        self.queued: deque[Task] = deque()
        self.in_flight: dict[Future, Task] = {}

    @property
    def busy(self) -> bool:
        return bool(self.queued or self.in_flight)

    def enqueue(self, tasks: Iterable[Task], first: bool = False) -> None:
        if first:
            self.queued.extendleft(reversed(list(tasks)))
        else:
            self.queued.extend(tasks)

    def drop_job(self, job_id: int) -> int:
        """Drop a job's queued fold tasks; returns how many were dropped (running ones finish)."""
        before = len(self.queued)
        self.queued = deque(t for t in self.queued if not (isinstance(t, FoldTask) and t.job_id == job_id))
        return before - len(self.queued)

    def fill(self) -> None:
        """Submit queued tasks until ``capacity`` run at once."""
        while self.queued and len(self.in_flight) < self.capacity:
            task = self.queued.popleft()
            self.in_flight[self.host.submit(runner_of(task), task)] = task

    def futures(self) -> list[Future]:
        return list(self.in_flight)

    def done(self, future: Future) -> Task | None:
        """The task a finished future ran, or None when it was already accounted for."""
        return self.in_flight.pop(future, None)

    def strand_all(self) -> list[Task]:
        """The executor broke: every task in flight on it is lost. Returns them, forgotten here."""
        stranded = list(self.in_flight.values())
        self.in_flight.clear()
        return stranded
