"""The training engine: codec jobs -> fold tasks on an executor -> events -> verdicts.

One engine serves both faces: the batch drains it once (``run_until_idle``); the console keeps
it serving in a background thread and submits or cancels codecs as corpora change. Tasks go to
any ``concurrent.futures.Executor``; a pool whose worker dies is replaced and the run goes on.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from trainer.corpus import CodecData
from trainer.events import CodecCancelled, CodecFinished, CodecQueued, Event, FoldFinished, LogLine
from trainer.folds import fold_masks
from trainer.gate import LOSO_FOLD_COUNT
from trainer.model import MLPWeights
from trainer.profiles import TrainingProfile
from trainer.results import CodecResult, error_result, judged_result, untrainable_result
from trainer.synthetic import stable_seed
from trainer.tasks import FinalTask, FoldResult, FoldTask, configure_worker, run_final_task, run_fold_task

ExecutorFactory = Callable[[], Executor]
Emit = Callable[[Event], None]
POLL_SECONDS = 0.1


def process_pool_factory(workers: int) -> ExecutorFactory:
    """Process pools whose workers fork from a server that has already imported torch."""

    def make() -> Executor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["trainer.tasks"])
        return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=configure_worker)

    return make


def build_fold_tasks(data: CodecData, profile: TrainingProfile, seed: int) -> list[FoldTask]:
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
            )
        )
    return tasks


@dataclass
class _Job:
    codec: str
    data: CodecData
    n_sources: int
    pending_tasks: int
    folds: list[FoldResult] = field(default_factory=list)
    error: str | None = None
    cancelled: bool = False


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
        self._jobs: dict[str, _Job] = {}
        self._in_flight: dict[Future, FoldTask | FinalTask] = {}
        self._finals: dict[str, FinalModel] = {}
        self.results: dict[str, CodecResult] = {}

    # -- thread-safe API -------------------------------------------------------------------
    def submit(self, codec: str, load: Callable[[], CodecData]) -> None:
        """Queue a codec; ``load`` runs on the engine thread when the codec's turn comes."""
        with self._lock:
            self._incoming.append((codec, load))
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
            job = self._jobs.get(codec)
            found = before != len(self._incoming)
            if job is not None and not job.cancelled:
                job.cancelled = True
                dropped = [t for t in self._tasks if isinstance(t, FoldTask) and t.codec == codec]
                self._tasks = deque(t for t in self._tasks if t not in dropped)
                job.pending_tasks -= len(dropped)
                found = True
                self._finish_if_done(job)
            elif found:
                self._emit(CodecCancelled(codec))
            return found

    def is_busy(self) -> bool:
        with self._lock:
            return bool(self._incoming or self._tasks or self._in_flight)

    def final_models(self) -> dict[str, FinalModel]:
        return dict(self._finals)

    # -- driving ---------------------------------------------------------------------------
    def run_until_idle(self) -> dict[str, CodecResult]:
        while self.step(POLL_SECONDS):
            pass
        return self.results

    def serve(self, stop: threading.Event) -> None:
        """Console mode: keep working and waiting for submissions until ``stop`` is set."""
        while not stop.is_set():
            if not self.step(POLL_SECONDS):
                with self._lock:
                    self._lock.wait(POLL_SECONDS)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

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
            tasks = build_fold_tasks(data, self.profile, self.seed)
            with self._lock:
                self._jobs[codec] = _Job(codec, data, n_sources, len(tasks))
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
            job = self._jobs[task.codec]
            job.pending_tasks -= 1
        if not job.cancelled:
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
            job = self._jobs[task.codec]
            job.pending_tasks -= 1
            job.error = job.error or reason
            dropped = [t for t in self._tasks if isinstance(t, FoldTask) and t.codec == task.codec]
            self._tasks = deque(t for t in self._tasks if t not in dropped)
            job.pending_tasks -= len(dropped)
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
            if self._jobs.get(job.codec) is not job:
                return
            del self._jobs[job.codec]
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
