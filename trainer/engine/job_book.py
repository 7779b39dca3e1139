"""The job book: each codec's training job as a state machine, and nothing else.

No locks, no executor, no threads: every transition is a plain method call that returns the
events it produced (and, where queued work became pointless, which job's queued tasks the caller
must drop). That makes every rule here testable on its own:

- a codec is requested at most once at a time; a newer request replaces a queued one and
  supersedes a running job, whose late results are then discarded (the latest data wins);
- a cancelled codec ends with exactly one ``CodecCancelled``; a newer request after a cancel
  revives it (the codec ends in its new job's verdict instead);
- a job with a failed task is that codec's ``error``; the other codecs are untouched;
- each verdict is kept with the data it judged (rows, file digests): promotion retrains and
  describes exactly that, never a newer job's rows still training or a cancelled job's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from trainer.core.gate import LOSO_FOLD_COUNT
from trainer.ingest.corpus import CodecData
from trainer.learning.calibration_sets import challenger_calibration
from trainer.learning.events import CodecCancelled, CodecFinished, CodecQueued, Event, FoldFinished
from trainer.learning.harness_floor import harness_curve_report
from trainer.learning.results import CodecResult, FoldResult, error_result, judged_result, untrainable_result

Loader = Callable[[], CodecData]
# Called with a finished job's data and folds: the comparison with the shipped model (report's codecs[].incumbent).
Compare = Callable[[CodecData, list[FoldResult]], dict[str, object]]


class Verdicts(dict[str, CodecResult]):
    """Each codec's latest verdict (a plain mapping to readers), plus the data it was judged on."""

    def __init__(self) -> None:
        super().__init__()
        self._judged: dict[str, tuple[CodecResult, CodecData | None]] = {}

    def record(self, result: CodecResult, data: CodecData | None) -> None:
        self._judged[result.codec] = (result, data)  # one assignment: a reader never sees a mixed pair
        self[result.codec] = result

    def judged(self) -> dict[str, tuple[CodecResult, CodecData | None]]:
        """Verdict and data, pairwise consistent, safe to call from another thread."""
        return dict(self._judged)


@dataclass
class Job:
    job_id: int
    codec: str
    data: CodecData
    pending_tasks: int
    n_folds: int
    folds: list[FoldResult] = field(default_factory=list)
    error: str | None = None
    cancelled: bool = False
    superseded: bool = False

    @property
    def live(self) -> bool:
        """Its results still count (not cancelled, not replaced by newer data)."""
        return not (self.cancelled or self.superseded)


@dataclass
class Transition:
    events: list[Event] = field(default_factory=list)
    drop_queued_tasks_of: int | None = None  # the caller drops this job's queued tasks, then reports tasks_dropped


class JobBook:
    def __init__(self, synthetic: bool = False, compare: Compare | None = None) -> None:
        self.synthetic = synthetic
        self.compare = compare
        self.requests: deque[tuple[str, Loader]] = deque()
        self.jobs: dict[int, Job] = {}
        self.active: dict[str, int] = {}  # codec -> its current job
        self.loading: set[str] = set()  # taken requests whose data is being read (no job yet)
        self.results = Verdicts()
        self._next_job_id = 1

    # -- requests ------------------------------------------------------------------------------
    def request(self, codec: str, load: Loader) -> Transition:
        """(Re)train ``codec`` on what ``load`` returns when its turn comes."""
        self._forget_request(codec)
        self.requests.append((codec, load))
        return self._supersede(codec)

    def take_request(self, one_codec_at_a_time: bool) -> tuple[str, Loader] | None:
        """The next request to load, or None (none queued, or one job at a time and one is open)."""
        if not self.requests or (one_codec_at_a_time and self.jobs):
            return None
        codec, load = self.requests.popleft()
        self.loading.add(codec)
        return codec, load

    def cancel(self, codec: str) -> tuple[bool, Transition]:
        """Drop the codec's queued request and cancel its job; False when there was nothing to cancel."""
        had_request = self._forget_request(codec)
        job = self._job_of(codec)
        if job is not None and not job.cancelled:
            job.cancelled = True
            return True, Transition(drop_queued_tasks_of=job.job_id)
        if had_request:
            return True, Transition([CodecCancelled(codec)])
        return False, Transition()

    def active_codecs(self) -> set[str]:
        """Codecs requested, loading their data, or training right now."""
        return {codec for codec, _ in self.requests} | self.loading | set(self.active)

    # -- jobs ----------------------------------------------------------------------------------
    def verdict_without_training(self, codec: str, data: CodecData) -> list[Event] | None:
        """Too few rows or sources: the verdict is known now, no job is opened."""
        early = untrainable_result(codec, data.n_rows, data.n_sources, data.provenance)
        if early is None:
            return None
        self.loading.discard(codec)
        return self.publish(early, data)

    def load_failed(self, codec: str, exc: BaseException) -> list[Event]:
        self.loading.discard(codec)
        return self.publish(error_result(codec, 0, 0, f"corpus load failed: {type(exc).__name__}: {exc}"))

    def open_job(self, codec: str, data: CodecData, n_tasks: int, n_folds: int = LOSO_FOLD_COUNT,
                 trained_rows: np.ndarray | None = None) -> tuple[int, Transition]:
        """Register a job with ``n_tasks`` tasks; a job of the same codec still running is superseded.
        ``trained_rows``: a mixed table's rows that state a quality, the only ones trained on (learning.planning)."""
        transition = self._supersede(codec)  # requested again while this load ran: the newer data wins
        self.loading.discard(codec)
        job_id, self._next_job_id = self._next_job_id, self._next_job_id + 1
        self.jobs[job_id] = Job(job_id, codec, data, n_tasks, n_folds)
        self.active[codec] = job_id
        transition.events.append(CodecQueued(codec, data.n_rows, data.n_sources, n_folds, data,
                                                     trained_rows))
        return job_id, transition

    def task_done(self, job_id: int, folds: list[FoldResult]) -> list[Event]:
        job = self.jobs[job_id]
        job.pending_tasks -= 1
        events: list[Event] = []
        if job.live:
            for fold in folds:
                job.folds.append(fold)
                events.append(FoldFinished(fold, len(job.folds), job.n_folds))
        return events + self._finish_if_done(job)

    def task_failed(self, job_id: int, reason: str) -> Transition:
        """A task raised or its worker died: the job ends in error once nothing of it is running."""
        job = self.jobs[job_id]
        job.pending_tasks -= 1
        job.error = job.error or reason
        return Transition(self._finish_if_done(job), drop_queued_tasks_of=job_id)

    def tasks_dropped(self, job_id: int, n_dropped: int) -> list[Event]:
        job = self.jobs.get(job_id)
        if job is None:
            return []
        job.pending_tasks -= n_dropped
        return self._finish_if_done(job)

    def model_choice(self, codec: str) -> dict[str, object] | None:
        """The candidate the codec's latest verdict chose for its full-corpus model (None: the profile's)."""
        result = self.results.get(codec)
        return result.model_choice() if result else None

    def publish(self, result: CodecResult, data: CodecData | None = None) -> list[Event]:
        self.results.record(result, data)
        return [CodecFinished(result)]

    # -- internals -----------------------------------------------------------------------------
    def _forget_request(self, codec: str) -> bool:
        before = len(self.requests)
        self.requests = deque(item for item in self.requests if item[0] != codec)
        return len(self.requests) != before

    def _job_of(self, codec: str) -> Job | None:
        job_id = self.active.get(codec)
        return None if job_id is None else self.jobs.get(job_id)

    def _supersede(self, codec: str) -> Transition:
        job = self._job_of(codec)
        if job is None:
            return Transition()
        job.superseded = True
        job.cancelled = False  # a newer request overrides an earlier cancel: its own job reports
        return Transition(drop_queued_tasks_of=job.job_id)

    def _finish_if_done(self, job: Job) -> list[Event]:
        if job.pending_tasks > 0 or self.jobs.pop(job.job_id, None) is None:
            return []
        if self.active.get(job.codec) == job.job_id:
            del self.active[job.codec]
        if job.cancelled:  # checked first: a cancel after a supersede must still end the codec's row
            return [CodecCancelled(job.codec)]
        if job.superseded:
            return []  # a newer job for this codec reports instead
        if job.error is not None:
            return self.publish(error_result(job.codec, job.data.n_rows, job.data.n_sources, job.error), job.data)
        result = judged_result(job.codec, job.data.n_rows, job.data.n_sources, job.folds, job.data.provenance,
                               self.synthetic)
        result.calibration = challenger_calibration(job.data.target, job.data.sources, result.folds,
                                                    None if job.data.harness is None else job.data.harness.rows)
        if self.compare is not None:
            result.incumbent = self.compare(job.data, result.folds)
        # the shipping layer marks a comparison the challenger loses (``incumbent.regression``): it then does not ship
        ships = result.status == "pass" and not (result.incumbent or {}).get("regression")
        result.harness_curve = harness_curve_report(job.data, result.folds, ships, result.incumbent)
        return self.publish(result, job.data)
