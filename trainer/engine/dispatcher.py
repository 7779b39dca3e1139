"""The dispatcher: tasks waiting, tasks in flight, and how many may run at once.

No locks of its own (the engine holds one around it) and no waiting: ``done`` takes the futures
the engine's wait returned. Futures it no longer knows (a broken executor already stranded
them) are ignored, so one break is never reported twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container, Iterable
from concurrent.futures import Future
from typing import Any

from trainer.executors.host import ExecutorHost, is_broken_executor
from trainer.learning.tasks import FinalTask, FoldTask, run_final_task, run_fold_task

Task = FoldTask | FinalTask
# A task that never began before its pool broke (a fork server that died) is queued again up to this often.
MAX_UNSTARTED_RETRIES = 10


def runner_of(task: Task) -> Callable[[Any], Any]:
    return run_fold_task if isinstance(task, FoldTask) else run_final_task


class Dispatcher:
    def __init__(self, host: ExecutorHost, capacity: int) -> None:
        self.host = host
        self.capacity = max(1, capacity)
        self.queued: deque[Task] = deque()
        self.in_flight: dict[Future, Task] = {}
        self.retries: dict[int, int] = {}  # id(task) -> times re-run after another task's worker died
        self.deaths: dict[int, int] = {}  # id(task) -> times re-run after its own worker died
        self.unstarted: dict[int, int] = {}  # id(task) -> times queued again after a break before it began

    @property
    def busy(self) -> bool:
        return bool(self.queued or self.in_flight)

    def enqueue(self, tasks: Iterable[Task], first: bool = False) -> None:
        if first:
            self.queued.extendleft(reversed(list(tasks)))
        else:
            self.queued.extend(tasks)

    def drop_job(self, job_id: int) -> int:
        """Drop a job's queued fold tasks and withdraw its running ones from the executor (a cluster
        cancels them; their futures still come back through ``done``). Returns how many were dropped."""
        dropped = [t for t in self.queued if _of_job(t, job_id)]
        self.queued = deque(t for t in self.queued if not _of_job(t, job_id))
        self.host.withdraw([future for future, task in self.in_flight.items() if _of_job(task, job_id)])
        self._release_unused(dropped)
        return len(dropped)

    def fill(self) -> None:
        """Submit queued tasks until ``capacity`` run at once."""
        while self.queued and len(self.in_flight) < self.capacity:
            task = self.queued.popleft()
            self.in_flight[self.host.submit(runner_of(task), task)] = task

    def futures(self) -> list[Future]:
        return list(self.in_flight)

    def done(self, future: Future) -> Task | None:
        """The task a finished future ran, or None when it was already accounted for."""
        task = self.in_flight.pop(future, None)
        if task is not None and (future.cancelled() or not is_broken_executor(future.exception())):
            self.settled(task)  # it ended for good (a result or its own error)
            self._release_unused([task])
        return task

    def settled(self, task: Task) -> None:
        """The task ended (result or error): its re-run counts go."""
        for counts in (self.retries, self.deaths, self.unstarted):
            counts.pop(id(task), None)

    def rerun_or_fail(self, stranded: dict[Future, Task], lost: Container[Future], max_retries: int,
                      max_deaths: int = 0, started: Container[Future] | None = None) -> tuple[list[Task], list[Task]]:
        """After a break: queue again (first in line) each stranded task with retries left; returns
        (re-run, failed). A task whose own worker died (in ``lost``) has ``max_deaths`` re-runs: a
        worker killed once (pre-emption, a chaos test) costs nothing, a task that keeps killing its
        worker (out of memory) fails. The others, stranded by another task's death, have ``max_retries``;
        those that never began (not in ``started``, when given) have ``MAX_UNSTARTED_RETRIES``."""
        again, failed = [], []
        for future, task in stranded.items():
            counts, limit = (self.deaths, max_deaths) if future in lost else (self.retries, max_retries)
            if started is not None and future not in lost and future not in started:
                counts, limit = self.unstarted, MAX_UNSTARTED_RETRIES
            tries = counts.get(id(task), 0)
            if tries >= limit:
                self.settled(task)
                failed.append(task)
            else:
                counts[id(task)] = tries + 1
                again.append(task)
        self.enqueue(again, first=True)
        return again, failed

    def _release_unused(self, ended: list[Task]) -> None:
        """Release each table of ``ended`` that no waiting or running task shares (one table per job)."""
        tables = {id(task.features): task.features for task in ended}
        for task in (*self.queued, *self.in_flight.values()):
            tables.pop(id(task.features), None)
        for table in tables.values():
            self.host.release(table)

    def strand_all(self) -> dict[Future, Task]:
        """The executor broke: every task in flight on it is lost. Returns them, forgotten here."""
        stranded = dict(self.in_flight)
        self.in_flight.clear()
        return stranded


def _of_job(task: Task, job_id: int) -> bool:
    return isinstance(task, FoldTask) and task.job_id == job_id
