"""The engine's executor on a Dask cluster: fold tasks as Dask tasks, each codec table scattered once.

Scattered data has no lineage: if the worker holding it dies, Dask cancels the tasks that need
it. Those tasks are sent again, from a thread of this executor (never Dask's callback thread,
which must stay free to deliver every other result), after one fresh scatter per lost table.
Not ``broadcast``: replicating to a worker that just died blocks the scatter until the
scheduler notices, which stalled a whole run in testing.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from trainer.executors.dask_cluster import Cluster, CodecArrays, local_versions, run_with_arrays

# A safety bound only: the engine releases each table as soon as no task of it waits or runs.
SCATTER_CACHE_SIZE = 64
LOST_DATA_RETRIES = 3
SCATTER_ATTEMPTS = 4
SCATTER_RETRY_SECONDS = 0.5
EMPTY = np.zeros(0, dtype=np.float32)
# Client states while it reconnects to a scheduler that dropped (its futures are cancelled meanwhile).
RECONNECTING = ("connecting",)
RECONNECT_POLL_SECONDS = 0.1


class SchedulerLost(RuntimeError):
    """The client lost its scheduler: every task of the run is gone with it (the codecs' error)."""


class ScatteredTables:
    """One scattered copy per codec table (tasks of one job share the same array objects)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._tables: OrderedDict[int, tuple[np.ndarray, Any]] = OrderedDict()

    def get(self, features: np.ndarray, target: np.ndarray, lost: Any = None) -> Any:
        """The table's future; scattered now if it is new or if its copy is ``lost`` (once per loss:
        a task that lost the same copy after the re-scatter gets the new one)."""
        key = id(features)
        with self._lock:
            cached = self._tables.get(key)
            if cached is not None and cached[0] is features and cached[1] is not lost:
                self._tables.move_to_end(key)
                return cached[1]
        for attempt in range(SCATTER_ATTEMPTS):
            try:
                future = self._client.scatter(CodecArrays(features, target), hash=False)
                break
            except OSError:  # CommClosedError: the worker it went to just died; the scheduler will notice
                if attempt == SCATTER_ATTEMPTS - 1:
                    raise
                time.sleep(SCATTER_RETRY_SECONDS * (attempt + 1))
        with self._lock:
            self._tables[key] = (features, future)
            evicted = []
            while len(self._tables) > SCATTER_CACHE_SIZE:
                evicted.append(self._tables.popitem(last=False)[1][1])
        for old in evicted:
            old.release()
        return future

    def release(self, features: np.ndarray) -> None:
        """No task needs this table any more: drop it here and let the cluster free it."""
        with self._lock:
            cached = self._tables.get(id(features))
            if cached is None or cached[0] is not features:
                return
            del self._tables[id(features)]
        cached[1].release()

    def __len__(self) -> int:
        with self._lock:
            return len(self._tables)

    def clear(self) -> None:
        with self._lock:
            self._tables.clear()


def await_reconnect(client: Any, closing: Callable[[], bool]) -> bool:
    """While the client reconnects to a scheduler that dropped, wait (Dask gives up after its
    time-out, ``--scheduler-timeout``: the client is then closed). True if it had to wait."""
    waited = False
    while client.status in RECONNECTING and not closing():
        waited = True
        time.sleep(RECONNECT_POLL_SECONDS)
    return waited


class DaskExecutor(concurrent.futures.Executor):
    """``submit(runner, task)`` on the cluster, returning a plain ``concurrent.futures.Future``.

    ``withdraw`` cancels tasks on the cluster (a cancelled or superseded job); ``release_table``
    frees a table no task needs any more.
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.tables = ScatteredTables(cluster.client)
        self._lock = threading.Lock()
        self._outstanding: dict[concurrent.futures.Future, Any] = {}
        self._withdrawn: set[concurrent.futures.Future] = set()
        self._resender = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dask-resend")
        self._closing = False
        self._gone: SchedulerLost | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        if kwargs or len(args) != 1:
            raise TypeError("DaskExecutor runs engine tasks: submit(runner, task)")
        local: concurrent.futures.Future = concurrent.futures.Future()
        local.set_running_or_notify_cancel()
        if self.cluster.client.status != "running":  # reconnecting: sent once the scheduler is back
            self._hand_to_resender(local, fn, args[0], LOST_DATA_RETRIES, None)
            return local
        try:
            self._send(local, fn, args[0], LOST_DATA_RETRIES, lost=None)
        except Exception as exc:  # the cluster refused it: that codec's error, not the run's end
            self._finish(local, self._lost_scheduler() or exc)
        return local

    @property
    def cluster_gone(self) -> SchedulerLost | None:
        """Set once a task failed because the scheduler went and did not come back."""
        return self._gone

    def withdraw(self, futures: Iterable[concurrent.futures.Future]) -> None:
        """Cancel these tasks on the cluster; their futures end in ``CancelledError``, never re-sent."""
        with self._lock:
            pending = [f for f in futures if not f.done()]
            self._withdrawn.update(pending)
            remotes = [self._outstanding[f] for f in pending if f in self._outstanding]
        self._cancel(remotes)

    def release_table(self, features: np.ndarray) -> None:
        self.tables.release(features)

    def _send(self, local: concurrent.futures.Future, fn: Callable[..., Any], task: Any, retries_left: int,
              lost: Any) -> None:
        arrays = self.tables.get(task.features, task.target, lost=lost)
        light = dataclasses.replace(task, features=EMPTY, target=EMPTY)
        remote = self.cluster.client.submit(run_with_arrays, fn, light, arrays, local_versions(), pure=False)
        with self._lock:
            self._outstanding[local] = remote
        remote.add_done_callback(lambda done: self._settle(local, done, fn, task, retries_left, arrays))

    def _settle(self, local: concurrent.futures.Future, remote: Any, fn: Callable[..., Any], task: Any,
                retries_left: int, arrays: Any) -> None:
        """Runs on Dask's callback thread: settles the local future or hands the task to the resender."""
        with self._lock:
            self._outstanding.pop(local, None)
            final = self._closing or retries_left <= 0 or local in self._withdrawn
        try:
            result = remote.result()
        except (concurrent.futures.CancelledError, OSError) as exc:  # Dask FutureCancelledError included
            # Cancelled: the scattered arrays were lost with their worker, or the scheduler dropped
            # (the client reconnects). OSError (CommClosedError): the worker holding the result
            # vanished while it was fetched. Either way: send again, off this thread.
            lost = self._lost_scheduler()
            if final or lost is not None:
                self._finish(local, lost or exc)
                return
            self._hand_to_resender(local, fn, task, retries_left - 1, arrays)
        except BaseException as exc:  # the task's own exception, or KilledWorker
            self._finish(local, exc)
        else:
            with self._lock:
                self._withdrawn.discard(local)
            local.set_result(result)

    def _hand_to_resender(self, local: concurrent.futures.Future, fn: Callable[..., Any], task: Any,
                          retries_left: int, lost: Any) -> None:
        try:
            self._resender.submit(self._resend, local, fn, task, retries_left, lost)
        except RuntimeError as closed:  # the resender was shut down meanwhile
            self._finish(local, closed)

    def _resend(self, local: concurrent.futures.Future, fn: Callable[..., Any], task: Any, retries_left: int,
                lost: Any) -> None:
        while True:
            if await_reconnect(self.cluster.client, lambda: self._closing) and self.cluster.client.status == "running":
                # reconnected, to a new scheduler: no table is on it, nor the worker plugin
                self.tables.clear()
                self.cluster.reinstall()
                lost = None
            with self._lock:
                stopped = self._closing or local in self._withdrawn
            if stopped:
                self._finish(local, concurrent.futures.CancelledError("withdrawn before it was sent again"))
                return
            if (gone := self._lost_scheduler()) is not None:
                self._finish(local, gone)
                return
            try:
                self._send(local, fn, task, retries_left, lost=lost)
                return
            except OSError as exc:  # the scheduler dropped mid-send: the client is about to reconnect
                if retries_left <= 0:
                    self._finish(local, self._lost_scheduler() or exc)
                    return
                retries_left -= 1
                time.sleep(SCATTER_RETRY_SECONDS)
            except BaseException as exc:
                self._finish(local, self._lost_scheduler() or exc)
                return

    def _lost_scheduler(self) -> SchedulerLost | None:
        """Not None once the client has given up on its scheduler: its tasks and scattered tables
        died with it, so nothing is sent again. A client still reconnecting is not lost yet."""
        status = self.cluster.client.status
        if status in ("running", "newly-created", *RECONNECTING) or self._closing:
            return None
        gone = SchedulerLost(f"lost the connection to the Dask scheduler {self.cluster.address} "
                             f"(client {status}): its tasks are gone")
        self._gone = self._gone or gone
        return gone

    def _finish(self, local: concurrent.futures.Future, exc: BaseException) -> None:
        with self._lock:
            self._withdrawn.discard(local)
        local.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closing = True
            outstanding = list(self._outstanding.values())
        self._resender.shutdown(wait=False)  # a queued re-send sees _closing and ends its future
        self.tables.clear()
        if cancel_futures:
            self._cancel(outstanding)
        self.cluster.close()

    def _cancel(self, remotes: list[Any]) -> None:
        """Cancel on the cluster; with the scheduler gone the tasks went with it, and nothing blocks."""
        if not remotes or self.cluster.client.status != "running":  # reconnecting or gone: nothing to reach
            return
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):  # lost just now: its tasks are gone anyway
            self.cluster.client.cancel(remotes)
