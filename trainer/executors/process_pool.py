"""The local executor: a process pool whose workers fork from a server that has already imported torch."""

from __future__ import annotations

import atexit
import contextlib
import itertools
import multiprocessing
import multiprocessing.context
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from typing import Any

# Imported once by the fork server, so every worker starts with torch loaded.
POOL_PRELOAD = ["trainer.learning.tasks", "trainer.learning.model", "trainer.learning.metrics"]


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
    global _helpers_stop_registered
    if not _helpers_stop_registered:
        atexit.register(stop_pool_helpers_at_exit)
        _helpers_stop_registered = True


_helpers_stop_registered = False


# How long, at exit, to wait for the fork server (tearing down its torch import takes about a second).
HELPER_STOP_SECONDS = 10.0


def stop_pool_helpers_at_exit(timeout_s: float = HELPER_STOP_SECONDS) -> None:
    """At interpreter exit: stop the fork server, then the resource tracker, and wait (bounded).

    Left alone they exit up to a few seconds *after* this process, when they read EOF on their
    pipe; stopping them here makes the run's process group empty when it exits. Registered with
    atexit by ``start_pool_helpers``, so a process that runs several batches (a test session)
    keeps one fork server throughout. multiprocessing's own exit work runs first, because its
    finalizers still talk to the tracker; then each helper's ``_stop`` (what multiprocessing's unit
    tests use). Where a Python lacks these, the helpers still end on EOF as before.
    """
    import multiprocessing.forkserver
    import multiprocessing.resource_tracker
    import multiprocessing.util

    exit_work = getattr(multiprocessing.util, "_exit_function", None)
    if exit_work is not None:
        exit_work()  # runs again at exit as a no-op
    fork_server = getattr(multiprocessing.forkserver, "_forkserver", None)
    _kill_fork_server(fork_server)
    for helper in (fork_server, getattr(multiprocessing.resource_tracker, "_resource_tracker", None)):
        stop = getattr(helper, "_stop", None)
        if stop is None:
            continue
        stopper = threading.Thread(target=_stop_quietly, args=(stop,), name="stop-pool-helper", daemon=True)
        try:
            stopper.start()
        except RuntimeError:  # Python 3.12+ starts no thread in atexit: wait without the bound
            _stop_quietly(stop)
            continue
        stopper.join(timeout_s)


def _kill_fork_server(fork_server: object) -> None:
    """End the fork server at once: it holds nothing to save (workers are already gone), and left to
    exit on EOF it tears down its torch import first, which kept every run about 0.3 s longer."""
    pid = getattr(fork_server, "_forkserver_pid", None)
    if isinstance(pid, int) and pid > 0:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _stop_quietly(stop: Callable[[], None]) -> None:
    """A helper's ``_stop``: it waits for the process, then unlinks the fork server's socket, which
    multiprocessing's exit work has already removed with its temp dir (FileNotFoundError)."""
    with contextlib.suppress(OSError):
        stop()


# Manager-thread join after a break: it reaps every worker (reading their exit codes) first.
BREAK_SETTLE_SECONDS = 10
# What the pool's own terminate takes (SIGTERM, then join) before a worker still alive is one it missed.
TERMINATE_SECONDS = 1.0


class QuietWorker(multiprocessing.context.ForkServerProcess):
    """A pool worker that ends quietly when its broken pool closes the task queue under it.

    CPython's worker loop raises EOFError there, and multiprocessing prints the traceback on the
    run's terminal, where a run must never print one (the chaos set caught it). A task's own
    exceptions never reach this level: they go back to the parent with the task's result.
    """

    def run(self) -> None:
        try:
            super().run()
        except (EOFError, OSError):
            sys.exit(0)


class QuietWorkerContext(multiprocessing.context.ForkServerContext):
    Process = QuietWorker


# In a worker: where each task announces (task key, pid) as it starts (see TrackedProcessPool).
_started: Any = None


def configure_worker(parent_pid: int | None = None, started: Any = None) -> None:
    """Pool initializer: one torch thread per process (N workers use N cores, not N^2).

    Ctrl-C in a terminal reaches the whole process group; workers ignore it and let the parent
    decide (it stops them). With ``parent_pid`` the worker also exits by itself when that process
    dies, however it dies. ``started`` is the pool's queue of task starts.
    """
    import torch

    global _started
    _started = started

    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None:
        from trainer.executors.parent_watch import exit_when_parent_dies

        exit_when_parent_dies(parent_pid)


def _run_tracked(key: int, fn: Callable[..., Any], *args: Any) -> Any:
    """In a worker: say which task this process is running, then run it."""
    if _started is not None:
        _started.put((key, os.getpid()))  # one small pipe write: atomic, even under SIGKILL
    return fn(*args)


class TrackedProcessPool(ProcessPoolExecutor):
    """A process pool that can tell, after it broke, which tasks were on the worker that died.

    When one worker dies (``kill -9``, the OOM killer) a ProcessPoolExecutor fails every task in
    flight. Each task here records (its key, its worker's pid) as it starts, through a queue
    handed to every worker, so the tasks stranded by a break split into the one whose worker died
    and the others, which only need to run again.
    """

    def __init__(self, workers: int) -> None:
        context = QuietWorkerContext()
        context.set_forkserver_preload(POOL_PRELOAD)
        self._started = context.SimpleQueue()
        # If the process that built the pool is killed, workers exit within moments, and with them
        # gone the fork server and resource tracker see EOF and exit too.
        super().__init__(max_workers=workers, mp_context=context, initializer=configure_worker,
                         initargs=(os.getpid(), self._started))
        self._keys = itertools.count()
        self._key_of: dict[Future, int] = {}
        self._pid_of: dict[int, int] = {}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        self._drain_starts()  # keeps the queue's pipe from filling over a long console session
        key = next(self._keys)
        future = super().submit(_run_tracked, key, fn, *args, **kwargs)
        self._key_of[future] = key
        future.add_done_callback(self._forget_unless_broken)
        return future

    def lost_with_their_worker(self, futures: Iterable[Future]) -> dict[Future, tuple[int, int]]:
        """After a break: of ``futures``, those whose task ran on a worker that died by a signal
        other than the pool's own SIGTERM, each with (worker pid, exit code)."""
        thread = getattr(self, "_executor_manager_thread", None)
        missed: set[int] = set()
        if thread is not None:
            thread.join(TERMINATE_SECONDS)  # the pool SIGTERMs its workers and joins them
            if thread.is_alive():  # a worker its terminate missed keeps it joining: end that worker
                missed = _kill_alive(pool_workers(self))
            thread.join(BREAK_SETTLE_SECONDS)  # it reaps every worker: exit codes are read once, there
        processes = list((getattr(self, "_processes", None) or {}).values())
        dead = {p.pid: p.exitcode for p in processes if p.pid not in missed
                and p.exitcode is not None and p.exitcode < 0 and p.exitcode != -signal.SIGTERM}
        self._drain_starts()
        lost = {}
        for future in futures:
            pid = self._pid_of.get(self._key_of.get(future, -1), 0)
            if pid in dead:
                lost[future] = (pid, dead[pid])
        return lost

    def started(self, futures: Iterable[Future]) -> set[Future]:
        """Of ``futures``, those whose task began on a worker (the others never ran anywhere)."""
        self._drain_starts()
        return {f for f in futures if self._key_of.get(f, -1) in self._pid_of}

    def _drain_starts(self) -> None:
        while not self._started.empty():
            key, pid = self._started.get()
            self._pid_of[key] = pid
        live = set(self._key_of.values())
        for key in [k for k in self._pid_of if k not in live]:
            del self._pid_of[key]

    def _forget_unless_broken(self, future: Future) -> None:
        if future.cancelled() or not isinstance(future.exception(), BrokenExecutor):
            self._key_of.pop(future, None)


def new_process_pool(workers: int) -> Executor:
    """A pool of ``workers`` processes; they watch this process and exit with it."""
    return TrackedProcessPool(workers)


def lost_with_their_worker(executor: Executor | None, futures: Iterable[Future]) -> dict[Future, tuple[int, int]]:
    """Which of ``futures`` died with their worker; empty when the executor cannot tell."""
    if isinstance(executor, TrackedProcessPool):
        return executor.lost_with_their_worker(futures)
    return {}


# A forkserver worker's exit code when the fork server died: its real state is unknown.
FORKSERVER_GONE = 255


def _kill_alive(workers: Iterable[multiprocessing.Process], exit_codes: tuple[int | None, ...] = (None,)) -> set[int]:
    """SIGKILL each of ``workers`` still alive whose exit code as the pool reads it is one of ``exit_codes``
    (None: it has not ended); their pids."""
    killed = set()
    for process in workers:
        if process.exitcode in exit_codes and process.pid and _alive(process.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process.pid, signal.SIGKILL)
                killed.add(process.pid)
    return killed


def end_orphaned_workers(executor: Executor | None) -> None:
    """After a break (and after its exit codes were read): kill the workers the pool lost track of.

    - When the fork server dies the pool reads every worker as ended (exit code 255) while they
      still run, and its own terminate skips them; they would train on, orphaned, until this
      process exits.
    - A worker the pool was still starting when another died is missed by the pool's terminate
      (CPython 3.11 terminates the workers it has registered, then joins all of them): it waits
      on the dead pool's queue forever, and the pool's manager thread, joining it, kept the run
      from exiting (found by the chaos set).
    """
    if executor is not None:
        _kill_alive(pool_workers(executor), (FORKSERVER_GONE, None))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def started_tasks(executor: Executor | None, futures: Iterable[Future]) -> set[Future] | None:
    """Which of ``futures`` began on a worker; None when the executor cannot tell."""
    return executor.started(futures) if isinstance(executor, TrackedProcessPool) else None


def pool_workers(executor: Executor) -> list[multiprocessing.Process]:
    """The worker processes of a ProcessPoolExecutor (``_processes``: pid -> Process); none for other executors."""
    processes = getattr(executor, "_processes", None)
    return list(processes.values()) if isinstance(processes, dict) else []


def process_pool_factory(workers: int) -> Callable[[], Executor]:
    """Makes a fresh pool each call: the first one, and each replacement of a broken one."""
    return lambda: new_process_pool(workers)
