"""Where a run's fold tasks go: the local fork-server pool, or a Dask cluster connected up front.

One place for both faces. The cluster is connected before anything else (an unreachable scheduler
is exit 2 before any corpus is read, and before the console's UI owns stderr); the pool's helper
processes are started early for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trainer.executors.dask_cluster import Cluster, ExecutorInfo, cluster_capacity, connect, describe_executor
from trainer.executors.dask_executor import DaskExecutor
from trainer.executors.host import ExecutorFactory
from trainer.executors.process_pool import process_pool_factory, start_pool_helpers


@dataclass
class Wiring:
    """The executor factory the engine and the advisor share, and what the report says about it."""

    factory: ExecutorFactory
    capacity: int  # tasks the engine keeps in flight
    info: ExecutorInfo  # run_provenance.executor
    cluster: Cluster | None = None
    workers: int = 1

    def describe(self) -> str:
        """Where training runs, as connected (the run log's first line)."""
        return describe_executor(self.info)

    def status(self) -> str:
        """Where training runs now; for a cluster, its current workers (they come and go)."""
        if self.cluster is None:
            return describe_executor(self.info)
        try:
            return describe_executor(self.cluster.describe())
        except Exception as exc:  # scheduler gone for a moment: say so, keep the caller up
            return f"dask {self.cluster.address}: unavailable ({type(exc).__name__})"

    def on_refusal(self, listener: Callable[[str], None]) -> None:
        """A late worker of another build is named through ``listener`` (the run log)."""
        if self.cluster is not None:
            self.cluster.on_refusal(listener)

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.close()


def wire_executor(scheduler: str | None, scheduler_timeout_s: float, workers: int) -> Wiring:
    """Connect to ``scheduler`` (raises ClusterUnavailable: exit 2), else prepare the local pool."""
    if not scheduler:
        start_pool_helpers()  # the fork server imports torch while this process reads the corpus
        return Wiring(process_pool_factory(workers), workers, {"kind": "process-pool", "workers": workers},
                      workers=workers)
    cluster = connect(scheduler, scheduler_timeout_s)
    try:
        info = cluster.describe()
    except BaseException:
        cluster.close()
        raise
    return Wiring(lambda: DaskExecutor(cluster), cluster_capacity(info), info, cluster, workers)
