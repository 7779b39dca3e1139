"""One executor at a time, whatever its kind: created on first use, replaced when broken, killed on quit.

The engine talks to this host and never to a pool's internals, so a local process pool and a
Dask cluster (``DaskExecutor``) are driven the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import BrokenExecutor, Executor, Future
from typing import Any

from trainer.executors.process_pool import end_orphaned_workers, lost_with_their_worker, pool_workers, started_tasks

ExecutorFactory = Callable[[], Executor]
KILL_JOIN_SECONDS = 5


def is_broken_executor(exc: BaseException | None) -> bool:
    """The executor itself died (a pool worker was killed): every task in flight on it is lost.

    Takes ``Future.exception()`` as it comes: None (the task returned) is no break.
    """
    return isinstance(exc, BrokenExecutor)


def broken_future(cause: BaseException) -> Future:
    """A future that reports a broken executor (``cause`` named), for a task that never started."""
    future: Future = Future()
    exc = BrokenExecutor(f"the executor could not start the task: {type(cause).__name__}: {cause}")
    exc.__cause__ = cause
    future.set_exception(exc)
    return future


class ExecutorHost:
    def __init__(self, factory: ExecutorFactory) -> None:
        self._factory = factory
        self._executor: Executor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Create the executor now (the console must, before its UI takes over stderr)."""
        with self._lock:
            self._ensure()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Submit to the current executor. An executor that cannot take the task (it broke before
        the engine noticed, or its fork server died while starting a worker: ``EOFError``) gives a
        future already failed as a break, so the engine replaces it as after a worker's death."""
        with self._lock:
            executor = self._ensure()
            try:
                return executor.submit(fn, *args)
            except (BrokenExecutor, EOFError, OSError) as exc:
                return broken_future(exc)

    def replace(self, broken: Executor | None = None) -> None:
        """Drop a broken executor; the next submit creates a fresh one.

        With ``broken`` given, only that executor is dropped: a second report of the same break,
        after the replacement already happened, changes nothing.
        """
        with self._lock:
            executor = self._executor
            if executor is None or (broken is not None and executor is not broken):
                return
            self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def replace_broken(self, broken: Executor | None,
                       futures: Iterable[Future]) -> tuple[dict[Future, tuple[int, int]], set[Future] | None]:
        """Drop ``broken`` (as ``replace``), first finding which of ``futures`` ran on the worker
        that died, with its (pid, exit code), and which had begun at all (None: cannot tell)."""
        futures = list(futures)
        lost = lost_with_their_worker(broken, futures)
        started = started_tasks(broken, futures)
        end_orphaned_workers(broken)
        self.replace(broken)
        return lost, started

    def withdraw(self, futures: list[Future]) -> None:
        """Cancel tasks where they run, if the executor can (a Dask cluster); a process pool's
        running tasks cannot be stopped: they finish and are discarded."""
        withdraw = getattr(self._executor, "withdraw", None)
        if withdraw is not None and futures:
            withdraw(futures)

    def release(self, table: Any) -> None:
        """No task needs this table any more: an executor that keeps a copy of it (scattered on a
        cluster) frees it now, not at the end of a console session."""
        release = getattr(self._executor, "release_table", None)
        if release is not None:
            release(table)

    def gone(self) -> BaseException | None:
        """Why the executor can run nothing any more (a cluster whose scheduler went and stayed
        gone), or None."""
        return getattr(self._executor, "cluster_gone", None)

    @property
    def current(self) -> Executor | None:
        return self._executor

    def close(self, kill: bool = False) -> None:
        """Shut down; ``kill`` ends running tasks at once (quit, stop signal: no orphans)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        workers = pool_workers(executor) if kill else []
        executor.shutdown(wait=not kill, cancel_futures=True)
        for process in workers:
            process.terminate()
        for process in workers:
            process.join(timeout=KILL_JOIN_SECONDS)

    def _ensure(self) -> Executor:
        if self._executor is None:
            self._executor = self._factory()
        return self._executor
