"""Scale-out on an existing Dask cluster: the engine's fold tasks through ``distributed``.

The engine drives any ``concurrent.futures.Executor``; ``DaskExecutor`` is one whose work runs on
a Dask cluster. Dask does the scheduling, the retries when a worker dies (a task that keeps
killing workers comes back as ``KilledWorker``, which the engine turns into that codec's error)
and the monitoring (its dashboard). What this module adds is only what the project needs:

- each codec's arrays go to the cluster once (``scatter``), not pickled into every task;
- workers run one torch thread per task (a worker plugin, so late joiners get it too);
- workers whose project or torch version differs from this client's are refused: at connect
  time for the workers present, and per task for any that join later.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

LOCAL_PREFIX = "local:"
CONNECT_TIMEOUT_S = 10
SCATTER_CACHE_SIZE = 64
LOST_DATA_RETRIES = 3
SCATTER_ATTEMPTS = 4
SCATTER_RETRY_SECONDS = 0.5
EMPTY = np.zeros(0, dtype=np.float32)


class ClusterUnavailable(Exception):
    """The scheduler cannot be reached or its workers cannot run this build: exit 2."""


class WorkerVersionMismatch(RuntimeError):
    """A worker runs another project or torch version than the client that submitted the task."""


@lru_cache(maxsize=1)
def local_versions() -> dict[str, str]:
    """The versions a worker must match (package metadata: nothing heavy is imported)."""
    from importlib import metadata

    from trainer.core.version import project_version

    return {"project": project_version(), "torch": metadata.version("torch")}


def _worker_versions() -> dict[str, str]:
    """Run on each worker by name, so the worker reports its own versions, not a copy of ours."""
    return local_versions()


@dataclasses.dataclass(frozen=True)
class CodecArrays:
    """What every task of one codec shares: scattered once, resolved on the worker."""

    features: np.ndarray
    target: np.ndarray


def run_with_arrays(runner: Callable[[Any], Any], task: Any, arrays: CodecArrays,
                    expected: dict[str, str]) -> Any:
    """Worker side: refuse a mismatched build, then run the task on the scattered arrays."""
    mine = local_versions()
    if mine != expected:
        raise WorkerVersionMismatch(f"worker runs {mine}, the client expects {expected}")
    return runner(dataclasses.replace(task, features=arrays.features, target=arrays.target))


def _one_torch_thread_plugin() -> Any:
    from distributed.diagnostics.plugin import WorkerPlugin

    class OneTorchThread(WorkerPlugin):
        """Like the local pool's initializer: N task threads use N cores, not N x cores."""

        name = "vmaf-predictor-one-torch-thread"

        def setup(self, worker: Any) -> None:  # noqa: ARG002 - Dask's hook signature
            import torch

            torch.set_num_threads(1)

    return OneTorchThread()


@dataclasses.dataclass
class Cluster:
    """A connected client (and the LocalCluster it owns, for ``local:N``)."""

    address: str
    client: Any
    local_cluster: Any = None

    def describe(self) -> dict[str, object]:
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        return {"kind": "dask", "scheduler": self.address, "workers": len(workers),
                "threads": sum(int(w.get("nthreads", 0)) for w in workers.values())}

    def close(self) -> None:
        self.client.close()
        if self.local_cluster is not None:
            self.local_cluster.close()


def connect(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> Cluster:
    """Reach the scheduler at ``address`` (or start ``local:N``) and check its workers' versions."""
    from distributed import Client, LocalCluster

    local_cluster = None
    try:
        if address.startswith(LOCAL_PREFIX):
            try:
                n_workers = int(address[len(LOCAL_PREFIX):])
            except ValueError:
                raise ClusterUnavailable(f"--scheduler {address!r}: expected local:N with N workers") from None
            if n_workers < 1:
                raise ClusterUnavailable(f"--scheduler {address!r}: N must be at least 1")
            local_cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(local_cluster, timeout=f"{timeout_s}s")
            address = f"{address} ({local_cluster.scheduler_address})"
        else:
            client = Client(address, timeout=f"{timeout_s}s")
    except ClusterUnavailable:
        raise
    except (OSError, TimeoutError) as exc:
        if local_cluster is not None:
            local_cluster.close()
        raise ClusterUnavailable(f"cannot reach Dask scheduler {address} within {timeout_s:g} s: "
                                 f"{type(exc).__name__}: {exc}") from None
    cluster = Cluster(address, client, local_cluster)
    try:
        mismatched = {worker: versions for worker, versions in client.run(_worker_versions).items()
                      if versions != local_versions()}
        if mismatched:
            listed = "; ".join(f"{w}: {v}" for w, v in sorted(mismatched.items()))
            raise ClusterUnavailable(f"Dask workers run another build than this client ({local_versions()}): "
                                     f"{listed}. Install the same project and torch versions on every worker.")
        client.register_plugin(_one_torch_thread_plugin())
    except BaseException:
        cluster.close()
        raise
    return cluster


def describe_executor(info: dict[str, object]) -> str:
    """One line for logs and the console: where fold tasks run."""
    if info["kind"] == "dask":
        return f"dask {info['scheduler']} ({info['workers']} workers, {info['threads']} threads)"
    return f"process pool ({info['workers']} workers)"


def cluster_capacity(info: dict[str, object]) -> int:
    """Tasks the engine keeps in flight on a cluster: Dask schedules them, so hand it plenty (the
    bound only keeps cancellation of queued work prompt), and more as workers are added."""
    return max(64, 4 * int(info["threads"]))  # type: ignore[call-overload]


class DaskExecutor(concurrent.futures.Executor):
    """``submit(runner, task)`` on the cluster, returning a plain ``concurrent.futures.Future``.

    Scattered data has no lineage: if the worker holding it dies, Dask cancels the tasks that
    need it. Such a task is re-scattered and resubmitted (up to ``LOST_DATA_RETRIES`` times).
    Not ``broadcast``: replicating to a worker that just died blocks the scatter until the
    scheduler notices, which stalled a whole run in testing.
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._lock = threading.Lock()
        self._scattered: OrderedDict[int, tuple[np.ndarray, Any]] = OrderedDict()
        self._outstanding: dict[concurrent.futures.Future, Any] = {}
        self._closing = False

    def _arrays_future(self, features: np.ndarray, target: np.ndarray, fresh: bool = False) -> Any:
        """One scatter per codec table: tasks of the same job share the same array objects."""
        key = id(features)
        with self._lock:
            cached = self._scattered.get(key)
            if cached is not None and cached[0] is features and not fresh:
                self._scattered.move_to_end(key)
                return cached[1]
        for attempt in range(SCATTER_ATTEMPTS):
            try:
                future = self.cluster.client.scatter(CodecArrays(features, target), hash=False)
                break
            except OSError:  # CommClosedError: the worker it went to just died; the scheduler will notice
                if attempt == SCATTER_ATTEMPTS - 1:
                    raise
                time.sleep(SCATTER_RETRY_SECONDS * (attempt + 1))
        with self._lock:
            self._scattered[key] = (features, future)
            while len(self._scattered) > SCATTER_CACHE_SIZE:
                self._scattered.popitem(last=False)
        return future

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        if kwargs or len(args) != 1:
            raise TypeError("DaskExecutor runs engine tasks: submit(runner, task)")
        local: concurrent.futures.Future = concurrent.futures.Future()
        local.set_running_or_notify_cancel()
        try:
            self._send(local, fn, args[0], retries_left=LOST_DATA_RETRIES, fresh=False)
        except Exception as exc:  # the cluster refused it: that codec's error, not the run's end
            local.set_exception(exc)
        return local

    def _send(self, local: concurrent.futures.Future, fn: Callable[..., Any], task: Any, retries_left: int,
              fresh: bool) -> None:
        arrays = self._arrays_future(task.features, task.target, fresh=fresh)
        light = dataclasses.replace(task, features=EMPTY, target=EMPTY)
        remote = self.cluster.client.submit(run_with_arrays, fn, light, arrays, local_versions(), pure=False)
        with self._lock:
            self._outstanding[local] = remote
        remote.add_done_callback(lambda done: self._settle(local, done, fn, task, retries_left))

    def _settle(self, local: concurrent.futures.Future, remote: Any, fn: Callable[..., Any], task: Any,
                retries_left: int) -> None:
        """Runs on Dask's callback thread once the remote task has finished, failed or been cancelled."""
        with self._lock:
            self._outstanding.pop(local, None)
            closing = self._closing
        try:
            local.set_result(remote.result())
        except concurrent.futures.CancelledError as exc:  # Dask FutureCancelledError included
            if closing or retries_left <= 0:
                local.set_exception(exc)
                return
            try:  # the scattered arrays were lost with their workers: send them again
                self._send(local, fn, task, retries_left - 1, fresh=True)
            except BaseException as resend_error:
                local.set_exception(resend_error)
        except BaseException as exc:  # the task's own exception, or KilledWorker
            local.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closing = True
            outstanding = list(self._outstanding.values())
            self._scattered.clear()
        if cancel_futures:
            for remote in outstanding:
                remote.cancel()
        self.cluster.close()
