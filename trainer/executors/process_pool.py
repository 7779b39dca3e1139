"""The local executor: a process pool whose workers fork from a server that has already imported torch."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor

# Imported once by the fork server, so every worker starts with torch and scipy.stats loaded.
POOL_PRELOAD = ["trainer.learning.tasks", "trainer.learning.model", "trainer.learning.metrics", "scipy.stats"]


def start_pool_helpers() -> None:
    """Start multiprocessing's helper processes now, while stderr is a real file.

    Textual swaps stderr for an object whose fileno() is -1; a resource tracker or fork server
    launched after that fails with "bad value(s) in fds_to_keep" (Textual issue #3593). Once they
    run, pools can be created and rebuilt at any time.
    """
    import multiprocessing.forkserver
    import multiprocessing.resource_tracker

    multiprocessing.resource_tracker.ensure_running()
    multiprocessing.get_context("forkserver").set_forkserver_preload(POOL_PRELOAD)
    multiprocessing.forkserver.ensure_running()


def configure_worker(parent_pid: int | None = None) -> None:
    """Pool initializer: one torch thread per process (N workers use N cores, not N^2).

    Ctrl-C in a terminal reaches the whole process group; workers ignore it and let the parent
    decide (it stops them). With ``parent_pid`` the worker also exits by itself when that process
    dies, however it dies.
    """
    import signal

    import torch

    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None:
        from trainer.executors.parent_watch import exit_when_parent_dies

        exit_when_parent_dies(parent_pid)


def new_process_pool(workers: int) -> Executor:
    """A pool of ``workers`` processes; they watch this process and exit with it."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(POOL_PRELOAD)
    # If the process that built the pool is killed, workers exit within moments, and with them
    # gone the fork server and resource tracker see EOF and exit too.
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=configure_worker,
                               initargs=(os.getpid(),))


def pool_workers(executor: Executor) -> list[multiprocessing.Process]:
    """The worker processes of a ProcessPoolExecutor (``_processes``: pid -> Process); none for other executors."""
    processes = getattr(executor, "_processes", None)
    return list(processes.values()) if isinstance(processes, dict) else []


def process_pool_factory(workers: int) -> Callable[[], Executor]:
    """Makes a fresh pool each call: the first one, and each replacement of a broken one."""
    return lambda: new_process_pool(workers)
