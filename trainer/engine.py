"""The training engine: codec jobs -> fold tasks on an executor -> events -> verdicts.

One engine serves both faces: the batch drains it once (``run_until_idle``); the console keeps
it serving in a background thread and submits or cancels codecs as corpora change. Tasks go to
any ``concurrent.futures.Executor``; a pool whose worker dies is replaced and the run goes on.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trainer.corpus import CodecData
from trainer.events import CodecCancelled, CodecFinished, CodecQueued, Event, FoldFinished, LogLine
from trainer.folds import fold_masks
from trainer.gate import LOSO_FOLD_COUNT
from trainer.profiles import TrainingProfile
from trainer.results import CodecResult, FoldResult, error_result, judged_result, untrainable_result
from trainer.synthetic import stable_seed
from trainer.tasks import FinalTask, FoldTask, configure_worker, run_final_task, run_fold_task

if TYPE_CHECKING:
    from trainer.model import MLPWeights

ExecutorFactory = Callable[[], Executor]
Emit = Callable[[Event], None]
POLL_SECONDS = 0.1


# Imported once by the fork server, so every worker starts with torch and scipy.stats loaded.
POOL_PRELOAD = ["trainer.tasks", "trainer.model", "trainer.metrics", "scipy.stats"]


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


def process_pool_factory(workers: int) -> ExecutorFactory:
    """Process pools whose workers fork from a server that has already imported torch."""

    def make() -> Executor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(POOL_PRELOAD)
        # Workers watch the process that built the pool: if it is killed they exit within moments,
        # and with them gone the fork server and resource tracker see EOF and exit too.
        return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=configure_worker,
                                   initargs=(os.getpid(),))

    return make


def build_fold_tasks(data: CodecData, profile: TrainingProfile, seed: int, job_id: int = 0) -> list[FoldTask]:
    held_out = fold_masks(data.sources, seed, LOSO_FOLD_COUNT)
    tasks = []
    for start in range(0, LOSO_FOLD_COUNT, profile.folds_per_task):
        folds = tuple(range(start, min(start + profile.folds_per_task, LOSO_FOLD_COUNT)))
        tasks.append(
            FoldTask(
                codec=data.codec,
                fold_indices=folds,
                features=data.features,
                target=data.target,
                held_out=held_out[list(folds)],
                held_out_sources=tuple(tuple(sorted(set(data.sources[held_out[f]]))) for f in folds),
                profile=profile,
                seed=stable_seed(seed, data.codec, *folds),
                job_id=job_id,
            )
        )
    return tasks


@dataclass
class _Job:
    job_id: int
    codec: str
    data: CodecData
    n_sources: int
    pending_tasks: int
    folds: list[FoldResult] = field(default_factory=list)
    error: str | None = None
    cancelled: bool = False
    superseded: bool = False


@dataclass(frozen=True)
class FinalModel:
    codec: str
    weights: MLPWeights | None
    error: str | None


class TrainingEngine:
    def __init__(
        self,
        profile: TrainingProfile,
        seed: int,
        emit: Emit,
        executor_factory: ExecutorFactory,
        workers: int,
        synthetic: bool = False,
    ) -> None:
        self.profile = profile
        self.seed = seed
        self.synthetic = synthetic
        self._emit = emit
        self._executor_factory = executor_factory
        self._executor: Executor | None = None
        self._capacity = 1 if profile.sequential_codecs else max(1, workers)
        self._lock = threading.Condition()
        self._incoming: deque[tuple[str, Callable[[], CodecData]]] = deque()
        self._tasks: deque[FoldTask | FinalTask] = deque()
        self._jobs: dict[int, _Job] = {}
        self._active: dict[str, int] = {}  # codec -> its current job
        self._next_job_id = 1
        self._in_flight: dict[Future, FoldTask | FinalTask] = {}
        self._finals: dict[str, FinalModel] = {}
        self.results: dict[str, CodecResult] = {}

    # -- thread-safe API -------------------------------------------------------------------
    def submit(self, codec: str, load: Callable[[], CodecData]) -> None:
        """Queue a codec; ``load`` runs on the engine thread when the codec's turn comes.

        A codec is queued at most once: a newer submission replaces a queued one and supersedes
        a running one (whose late results are then discarded), so the latest data always wins.
        """
        with self._lock:
            self._incoming = deque(item for item in self._incoming if item[0] != codec)
            self._incoming.append((codec, load))
            self._supersede(self._job_of(codec))
            self._lock.notify_all()

    def submit_final(self, data: CodecData) -> None:
        """Queue the full-corpus retrain of a codec (used before promotion)."""
        with self._lock:
            self._tasks.append(FinalTask(data.codec, data.features, data.target, self.profile,
                                         stable_seed(self.seed, data.codec, "final")))
            self._lock.notify_all()

    def cancel(self, codec: str) -> bool:
        """Drop a codec's queued work; tasks already running finish and are discarded."""
        with self._lock:
            before = len(self._incoming)
            self._incoming = deque(item for item in self._incoming if item[0] != codec)
            job = self._job_of(codec)
            found = before != len(self._incoming)
            if job is not None and not job.cancelled:
                job.cancelled = True
                self._drop_queued_tasks(job)
                found = True
                self._finish_if_done(job)
            elif found:
                self._emit(CodecCancelled(codec))
            return found

    def active_codecs(self) -> set[str]:
        """Codecs queued or training right now."""
        with self._lock:
            return {codec for codec, _ in self._incoming} | set(self._active)

    def is_busy(self) -> bool:
        with self._lock:
            return bool(self._incoming or self._tasks or self._in_flight)

    def final_models(self) -> dict[str, FinalModel]:
        return dict(self._finals)

    # -- driving ---------------------------------------------------------------------------
    def run_until_idle(self, should_stop: Callable[[], bool] = lambda: False) -> dict[str, CodecResult]:
        """Drain the queue; ``should_stop`` is checked between steps (a stop signal ends the wait)."""
        while not should_stop() and self.step(POLL_SECONDS):
            pass
        return self.results

    def serve(self, stop: threading.Event) -> None:
        """Console mode: keep working and waiting for submissions until ``stop`` is set.

        An unexpected error is reported as a log event and serving goes on: the console must
        outlive any one bad job.
        """
        while not stop.is_set():
            try:
                idle = not self.step(POLL_SECONDS)
            except Exception as exc:
                self._emit(LogLine(f"engine error (serving continues): {type(exc).__name__}: {exc}"))
                idle = True
            if idle:
                with self._lock:
                    self._lock.wait(POLL_SECONDS)

    def warm_up(self) -> None:
        """Start the executor now (the console must do this before its UI takes over stderr)."""
        with self._lock:
            if self._executor is None:
                self._executor = self._executor_factory()

    def close(self, kill: bool = False) -> None:
        """Shut the executor down; ``kill`` stops running tasks at once (console quit: no orphans)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        # ProcessPoolExecutor keeps its workers in _processes (pid -> Process); other executors have none.
        pool_processes = getattr(executor, "_processes", None) if kill else None
        processes = list(pool_processes.values()) if isinstance(pool_processes, dict) else []
        executor.shutdown(wait=not kill, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)

    def step(self, timeout: float) -> bool:
        """Start what can start, wait up to ``timeout`` for a task; False when nothing is left."""
        self._start_incoming()
        self._fill_executor()
        with self._lock:
            futures = list(self._in_flight)
        if not futures:
            return self.is_busy()
        done, _ = wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            self._collect(future)
        return True

    # -- internals -------------------------------------------------------------------------
    def _start_incoming(self) -> None:
        while True:
            with self._lock:
                if not self._incoming or (self.profile.sequential_codecs and self._has_open_job()):
                    return
                codec, load = self._incoming.popleft()
            try:
                data = load()
            except Exception as exc:  # a corpus that cannot be loaded is this codec's error
                self._publish(error_result(codec, 0, 0, f"corpus load failed: {type(exc).__name__}: {exc}"))
                continue
            n_sources = data.n_sources
            early = untrainable_result(codec, data.n_rows, n_sources, data.provenance)
            if early is not None:
                self._publish(early)
                continue
            with self._lock:
                self._supersede(self._job_of(codec))  # resubmitted while this load ran: the newer data wins
                job_id, self._next_job_id = self._next_job_id, self._next_job_id + 1
                tasks = build_fold_tasks(data, self.profile, self.seed, job_id)
                self._jobs[job_id] = _Job(job_id, codec, data, n_sources, len(tasks))
                self._active[codec] = job_id
                self._tasks.extend(tasks)
            self._emit(CodecQueued(codec, data.n_rows, n_sources, LOSO_FOLD_COUNT))

    def _has_open_job(self) -> bool:
        return bool(self._jobs)

    def _fill_executor(self) -> None:
        with self._lock:
            while self._tasks and len(self._in_flight) < self._capacity:
                task = self._tasks.popleft()
                if self._executor is None:
                    self._executor = self._executor_factory()
                runner = run_fold_task if isinstance(task, FoldTask) else run_final_task
                self._in_flight[self._executor.submit(runner, task)] = task

    def _collect(self, future: Future) -> None:
        with self._lock:
            task = self._in_flight.pop(future)
        try:
            outcome = future.result()
        except BrokenProcessPool as exc:
            self._replace_broken_pool()
            self._task_failed(task, f"worker process died ({exc or 'killed or out of memory'})")
            return
        except Exception as exc:
            self._task_failed(task, f"{type(exc).__name__}: {exc}")
            return
        if isinstance(task, FinalTask):
            self._finals[task.codec] = FinalModel(task.codec, outcome, None)
            self._emit(LogLine(f"{task.codec}: full-corpus model trained on {task.target.shape[0]} rows"))
            return
        with self._lock:
            job = self._jobs[task.job_id]
            job.pending_tasks -= 1
        if not (job.cancelled or job.superseded):
            for fold in outcome:
                job.folds.append(fold)
                self._emit(FoldFinished(fold, len(job.folds), LOSO_FOLD_COUNT))
        self._finish_if_done(job)

    def _task_failed(self, task: FoldTask | FinalTask, reason: str) -> None:
        if isinstance(task, FinalTask):
            self._finals[task.codec] = FinalModel(task.codec, None, reason)
            self._emit(LogLine(f"{task.codec}: full-corpus retrain failed: {reason}"))
            return
        with self._lock:
            job = self._jobs[task.job_id]
            job.pending_tasks -= 1
            job.error = job.error or reason
            self._drop_queued_tasks(job)
        self._finish_if_done(job)

    def _job_of(self, codec: str) -> _Job | None:
        job_id = self._active.get(codec)
        return None if job_id is None else self._jobs.get(job_id)

    def _drop_queued_tasks(self, job: _Job) -> None:
        before = len(self._tasks)
        self._tasks = deque(t for t in self._tasks if not (isinstance(t, FoldTask) and t.job_id == job.job_id))
        job.pending_tasks -= before - len(self._tasks)

    def _supersede(self, job: _Job | None) -> None:
        """Newer data arrived for this job's codec: stop its queued work; late results are discarded."""
        if job is None:
            return
        job.superseded = True
        self._drop_queued_tasks(job)
        self._finish_if_done(job)

    def _replace_broken_pool(self) -> None:
        with self._lock:
            broken, self._executor = self._executor, None
            stranded = list(self._in_flight.items())
            self._in_flight.clear()
        if broken is not None:
            broken.shutdown(wait=False, cancel_futures=True)
        self._emit(LogLine("worker pool broke; starting a fresh pool"))
        for _future, task in stranded:
            self._task_failed(task, "worker process died while this codec's task was running")

    def _finish_if_done(self, job: _Job) -> None:
        if job.pending_tasks > 0:
            return
        with self._lock:
            if self._jobs.pop(job.job_id, None) is None:
                return
            if self._active.get(job.codec) == job.job_id:
                del self._active[job.codec]
        if job.superseded:
            return  # a newer job for this codec reports instead
        if job.cancelled:
            self._emit(CodecCancelled(job.codec))
            return
        if job.error is not None:
            self._publish(error_result(job.codec, job.data.n_rows, job.n_sources, job.error))
            return
        self._publish(
            judged_result(job.codec, job.data.n_rows, job.n_sources, job.folds, job.data.provenance, self.synthetic)
        )

    def _publish(self, result: CodecResult) -> None:
        self.results[result.codec] = result
        self._emit(CodecFinished(result))
