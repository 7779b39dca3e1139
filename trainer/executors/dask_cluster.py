"""Scale-out on an existing Dask cluster: the engine's fold tasks through ``distributed``.

The engine drives any ``concurrent.futures.Executor``; ``DaskExecutor`` is one whose work runs on
a Dask cluster. Dask does the scheduling, the retries when a worker dies (a task that keeps
killing workers comes back as ``KilledWorker``, which the engine turns into that codec's error)
and the monitoring (its dashboard). What this module adds is only what the project needs:

- each codec's arrays go to the cluster once (``scatter``), not pickled into every task;
- workers run one torch thread per task (a worker plugin, so late joiners get it too);
- workers whose project, torch or numpy version differs from this client's are refused: at
  connect time for the workers present (exit 2); a worker that joins later with another build
  closes itself as it joins (a worker plugin), and the client logs a line naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypedDict

import numpy as np

LOCAL_PREFIX = "local:"
CONNECT_TIMEOUT_S = 10
REFUSED_TOPIC = "vmaf-predictor-refused-worker"


class ExecutorInfo(TypedDict, total=False):
    """The report's ``run_provenance.executor``: a process pool names its workers; a cluster also its
    scheduler and threads."""

    kind: str
    scheduler: str
    workers: int
    threads: int


class ClusterUnavailable(Exception):
    """The scheduler cannot be reached or its workers cannot run this build: exit 2."""


@lru_cache(maxsize=1)
def local_versions() -> dict[str, str]:
    """The versions a worker must match (package metadata: nothing heavy is imported)."""
    from importlib import metadata

    from trainer.core.version import project_version

    return {"project": project_version(), "torch": metadata.version("torch"), "numpy": metadata.version("numpy")}


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
    """Worker side: a worker of another build hands the task back (it is closing: see the plugin),
    otherwise the task runs on the scattered arrays."""
    if local_versions() != expected:
        from distributed import Reschedule

        raise Reschedule()
    return runner(dataclasses.replace(task, features=arrays.features, target=arrays.target))


def _worker_setup_plugin(expected: dict[str, str]) -> Any:
    from distributed.diagnostics.plugin import WorkerPlugin

    class WorkerSetup(WorkerPlugin):
        """Runs on every worker, late joiners included. Like the local pool's initializer, one torch
        thread per task thread; a worker of another build says so and closes (with its nanny)."""

        name = "vmaf-predictor-worker-setup"

        def __init__(self, expected: dict[str, str]) -> None:
            self.expected = expected
            self.closing: asyncio.Task | None = None

        async def setup(self, worker: Any) -> None:
            mine = local_versions()
            if mine != self.expected:
                worker.log_event(REFUSED_TOPIC, {"worker": worker.address, "name": str(worker.name), "versions": mine})
                self.closing = asyncio.get_running_loop().create_task(worker.close(reason="another build"))
                return
            import torch

            torch.set_num_threads(1)

    return WorkerSetup(expected)


@dataclasses.dataclass
class Cluster:
    """A connected client (and the LocalCluster it owns, for ``local:N``)."""

    address: str
    client: Any
    local_cluster: Any = None
    refusals: list[str] = dataclasses.field(default_factory=list)
    plugin: Any = None
    _listener: Callable[[str], None] | None = None
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def on_refusal(self, listener: Callable[[str], None]) -> None:
        """Where lines about refused late workers go (the run log); earlier ones are replayed."""
        with self._lock:
            self._listener, earlier = listener, list(self.refusals)
        for line in earlier:
            listener(line)

    def _refused(self, event: tuple[float, dict[str, Any]]) -> None:
        """On the client's event loop: a worker that joined with another build closed itself."""
        msg = event[1]
        line = (f"Dask worker {msg.get('name')} ({msg.get('worker')}) runs another build {msg.get('versions')} "
                f"than this client {local_versions()}: it was closed and gets no tasks")
        with self._lock:
            self.refusals.append(line)
            listener = self._listener
        if listener is not None:
            listener(line)

    def reinstall(self) -> None:
        """After the client reconnected to a scheduler that was restarted: it has no worker plugin
        (late and restarted workers would get none), so register it again, best effort."""
        if self.plugin is not None:
            with contextlib.suppress(ClusterUnavailable):
                _while_workers_leave(self.address, "registering the worker plugin again",
                                     lambda: self.client.register_plugin(self.plugin))

    def describe(self) -> ExecutorInfo:
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
        # A worker that is lost meanwhile answers with an exception (on_error="return"): it is gone, not wrong.
        answers = _while_workers_leave(address, "asking the workers' versions",
                                       lambda: client.run(_worker_versions, on_error="return"))
        mismatched = {worker: versions for worker, versions in answers.items()
                      if isinstance(versions, dict) and versions != local_versions()}
        if mismatched:
            listed = "; ".join(f"{w}: {v}" for w, v in sorted(mismatched.items()))
            raise ClusterUnavailable(f"Dask workers run another build than this client ({local_versions()}): "
                                     f"{listed}. Install the same project, torch and numpy versions on every worker.")
        client.subscribe_topic(REFUSED_TOPIC, cluster._refused)
        plugin = cluster.plugin = _worker_setup_plugin(local_versions())
        _while_workers_leave(address, "registering the worker plugin", lambda: client.register_plugin(plugin))
    except BaseException:
        cluster.close()
        raise
    return cluster


# A call to every worker fails when one of them is lost mid-call (CommClosedError: Stream is closed);
# the scheduler drops that worker within moments, so the call is made again, a few times.
CALL_ATTEMPTS = 5
CALL_RETRY_SECONDS = 0.5


def _while_workers_leave(address: str, what: str, call: Callable[[], Any]) -> Any:
    """``call()``, again after a pause while it fails with a lost connection (a worker that vanished,
    the scheduler dropping for a moment); still failing after ``CALL_ATTEMPTS``: ClusterUnavailable."""
    for attempt in range(CALL_ATTEMPTS):
        try:
            return call()
        except (OSError, TimeoutError) as exc:  # CommClosedError is an OSError
            if attempt == CALL_ATTEMPTS - 1:
                raise ClusterUnavailable(f"cluster unavailable: Dask scheduler {address}: {what} failed "
                                         f"{CALL_ATTEMPTS} times: {type(exc).__name__}: {exc}") from None
            time.sleep(CALL_RETRY_SECONDS * (attempt + 1))
    raise AssertionError("unreachable")


def describe_executor(info: ExecutorInfo) -> str:
    """One line for logs and the console: where fold tasks run."""
    if info["kind"] == "dask":
        return f"dask {info['scheduler']} ({info['workers']} workers, {info['threads']} threads)"
    return f"process pool ({info['workers']} workers)"


def cluster_capacity(info: ExecutorInfo) -> int:
    """Tasks the engine keeps in flight on a cluster: Dask schedules them, so hand it plenty (the
    bound only keeps cancellation of queued work prompt), and more as workers are added."""
    return max(64, 4 * int(info["threads"]))
