"""``dask worker --preload`` file: this worker pretends to run another build of the project."""

from trainer.executors import dask_cluster

_real = dask_cluster.local_versions()
dask_cluster.local_versions = lambda: {**_real, "project": "0.0.0-other-build"}
