"""The training engine: codec jobs -> fold tasks on an executor -> events -> verdicts.

One engine serves both faces: the batch drains it once (``run_until_idle``); the console keeps
it serving in a background thread (``serve``) and requests or cancels codecs as corpora change.
The engine only wires its parts together under one lock: the job book (what each codec's job
is doing), the dispatcher (which tasks wait and run), the executor host (the pool or cluster
they run on) and the final trainer (the full-corpus retrains promotion waits on). With
``retrain_early`` (the batch) it starts each codec's retrain itself, the moment the codec passes,
so the one drain covers folds and retrains and the planner only collects what they gave.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from functools import partial

from trainer.engine.dispatcher import Dispatcher, Task
from trainer.engine.final_trainer import FinalTrainer
from trainer.engine.job_book import Compare, JobBook, Loader, Transition, Verdicts
from trainer.executors.dask_cluster import ClusterUnavailable
from trainer.executors.host import ExecutorFactory, ExecutorHost, is_broken_executor
from trainer.ingest.corpus import CodecData
from trainer.learning.events import EngineError, Event, PoolReplaced, TaskRetried, WorkerDied
from trainer.learning.planning import build_final_task, build_fold_tasks, fold_groups, fold_plan
from trainer.learning.profiles import TrainingProfile
from trainer.learning.results import CodecResult, FinalModel
from trainer.learning.tasks import FinalTask, FoldTask

Emit = Callable[[Event], None]
WORKER_DIED = "worker process died (killed or out of memory) while this codec's task was running"
# A task stranded by another task's dead worker runs again on the fresh pool, at most this often.
MAX_TASK_RETRIES = 2
# A task whose own worker died runs again at most this often (Dask's own allowed-failures is 3):
# one death (pre-emption, a stray kill) costs nothing; a task that keeps killing its worker fails.
MAX_WORKER_DEATHS = MAX_DEATHS = 2
RETRY_REASON = "worker died"
POLL_SECONDS = 0.1


class TrainingEngine:
    def __init__(self, profile: TrainingProfile, seed: int, emit: Emit, executor_factory: ExecutorFactory,
                 workers: int, synthetic: bool = False, compare: Compare | None = None,
                 retrain_early: bool = False) -> None:
        self.profile, self.seed, self._emit = profile, seed, emit
        self._lock = threading.Condition()
        self._book = JobBook(synthetic, compare)
        self._host = ExecutorHost(executor_factory)
        self._dispatcher = Dispatcher(self._host, 1 if profile.sequential_codecs else workers)
        choice = self._book.model_choice  # the candidate the codec's verdict chose for its full-corpus model
        self._finals = FinalTrainer(lambda data: build_final_task(data, profile, seed, choice(data.codec)),
                                    lambda task: self._dispatcher.enqueue([task]), early=retrain_early)
        self.executor_gone = self._host.gone  # why it can run no more, or None
        self.results: Verdicts = self._book.results

    def submit(self, codec: str, load: Loader) -> None:
        """Queue a codec; ``load`` runs on the engine thread when its turn comes. The latest data wins."""
        self._under_lock(lambda: self._apply(self._book.request(codec, load)))

    def train_final(self, data: CodecData) -> Future[FinalModel]:
        """The full-corpus retrain of exactly ``data`` (before promotion); see ``FinalTrainer.start``."""
        with self._lock:
            future = self._finals.start(data)
            self._lock.notify_all()
        return future

    def cancel(self, codec: str) -> bool:
        """Drop a codec's queued work; tasks already running finish and are discarded."""
        with self._lock:
            found, transition = self._book.cancel(codec)
            events = self._apply(transition)
        self._emit_all(events)
        return found

    def active_codecs(self) -> set[str]:  # queued or training right now
        with self._lock:
            return self._book.active_codecs()

    def is_busy(self) -> bool:
        with self._lock:
            return bool(self._book.requests) or self._dispatcher.busy

    def run_until_idle(self, should_stop: Callable[[], bool] = lambda: False) -> dict[str, CodecResult]:
        """The batch: drain folds and retrains, checking ``should_stop`` between steps. Errors propagate (the
        batch reports them); a scheduler that stayed gone is ``ClusterUnavailable`` (exit 2) once every codec
        has its verdict."""
        while not should_stop() and self.step(POLL_SECONDS):
            pass
        gone = self.executor_gone()
        if gone is not None and not should_stop():
            raise ClusterUnavailable(f"cluster unavailable: {gone}")
        return self.results

    def wait_for_work(self, timeout: float) -> None:
        with self._lock:  # a submission wakes it early
            self._lock.wait(timeout)

    def warm_up(self) -> None:
        self._host.start()  # the console must, before its UI takes over stderr

    def close(self, kill: bool = False) -> None:
        """Shut the executor down; ``kill`` stops running tasks at once (console quit: no orphans)."""
        self._host.close(kill=kill)
        with self._lock:
            self._finals.abandon_all("the engine closed before the retrain finished")

    def step(self, timeout: float) -> bool:
        """Start what can start, wait up to ``timeout`` for a task; False when nothing is left."""
        self._open_requested_jobs()
        with self._lock:
            self._dispatcher.fill()
            futures, busy = self._dispatcher.futures(), bool(self._book.requests) or self._dispatcher.busy
        if not futures:
            return busy
        done, _ = wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            self._collect(future)
        return True

    def _apply(self, transition: Transition) -> list[Event]:
        events = list(transition.events)
        job_id = transition.drop_queued_tasks_of
        if job_id is not None:
            events += self._book.tasks_dropped(job_id, self._dispatcher.drop_job(job_id))
        return events

    def _emit_all(self, events: list[Event]) -> None:
        list(map(self._emit, events))

    def _under_lock(self, change: Callable[[], list[Event]]) -> None:
        """Change state under the lock (waking a waiting server); emit the events outside it."""
        with self._lock:
            events = change()
            self._lock.notify_all()
        self._emit_all(events)

    def _open_requested_jobs(self) -> None:
        while True:
            with self._lock:
                request = self._book.take_request(self.profile.sequential_codecs)
            if request is None:
                return
            codec, load = request
            try:
                data = load()
            except Exception as exc:  # a corpus that cannot be loaded is this codec's error
                self._under_lock(partial(self._book.load_failed, codec, exc))
                continue
            with self._lock:
                events = self._book.verdict_without_training(codec, data)
                if events is None:
                    plan, n_tasks = fold_plan(data, self.seed), len(fold_groups(self.profile, data.n_rows))
                    job_id, opened = self._book.open_job(codec, data, n_tasks, trained_rows=plan.pick_rows)
                    events = self._apply(opened)
                    self._dispatcher.enqueue(build_fold_tasks(data, self.profile, self.seed, job_id, plan))
                    self._finals.start_beside_folds(self.profile, data)
            self._emit_all(events)

    def _collect(self, future: Future) -> None:
        with self._lock:
            task = self._dispatcher.done(future)
        if task is None:
            return  # stranded by a broken executor and already accounted for
        try:
            outcome = future.result()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a cancelled future too: asyncio's CancelledError is no Exception
            if is_broken_executor(exc):
                self._executor_broke(future, task)
            else:
                self._task_failed(task, f"{type(exc).__name__}: {exc}")
            return
        self._under_lock(lambda: self._finals.finished(task, outcome) if isinstance(task, FinalTask)
                         else self._finals.start_passed(self._book.task_done(task.job_id, outcome), self.results))

    def _executor_broke(self, future: Future, task: Task) -> None:
        """A worker died, breaking the executor: a fresh one; the stranded tasks run again (bounded)."""
        with self._lock:
            stranded, broken = {future: task, **self._dispatcher.strand_all()}, self._host.current
        lost, started = self._host.replace_broken(broken, stranded)  # may wait a moment for the pool to settle
        with self._lock:
            again, failed = self._dispatcher.rerun_or_fail(stranded, lost, MAX_TASK_RETRIES, MAX_DEATHS, started)
        self._emit_all(_break_lines(stranded, lost, failed, again))
        for lost_task in failed:
            self._task_failed(lost_task, WORKER_DIED)

    def _task_failed(self, task: Task, reason: str) -> None:
        self._under_lock(lambda: self._apply(self._book.task_failed(task.job_id, reason)) if isinstance(task, FoldTask)
                         else self._finals.failed(task, reason))


def _break_lines(stranded: dict[Future, Task], lost: dict[Future, tuple[int, int]], failed: list[Task],
                 again: list[Task]) -> list[Event]:
    events: list[Event] = [WorkerDied(pid, code, stranded[future].codec) for future, (pid, code) in lost.items()]
    events.append(PoolReplaced(len(failed), tuple(sorted({t.codec for t in failed})), len(again)))
    retried = sorted({t.codec for t in again if isinstance(t, FoldTask)} - {t.codec for t in failed})
    return events + [TaskRetried(codec, RETRY_REASON) for codec in retried]


def serve(engine: TrainingEngine, stop: threading.Event, emit: Emit) -> None:
    """The console's loop: work and wait for submissions until ``stop`` is set.

    An unexpected error is reported as a log event and serving goes on: the console must
    outlive any one bad job.
    """
    while not stop.is_set():
        try:
            idle = not engine.step(POLL_SECONDS)
        except Exception as exc:
            emit(EngineError(f"{type(exc).__name__}: {exc}"))
            idle = True
        if idle:
            engine.wait_for_work(POLL_SECONDS)
