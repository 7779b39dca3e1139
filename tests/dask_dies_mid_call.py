"""``dask worker --preload`` file: this worker is killed (SIGKILL) as a worker plugin reaches it.

What a worker lost at the worst moment looks like to the client: the plugin registration is in
flight when the worker's stream closes (issue 28's ``CommClosedError ... register_worker_plugin``).
Run it with ``--no-nanny``, so the worker stays gone.
"""

import os
import signal


def dask_setup(worker) -> None:  # noqa: ANN001  (Dask's preload hook)
    async def die(*_args, **_kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    worker.handlers["plugin-add"] = die
