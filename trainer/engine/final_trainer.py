"""Full-corpus retrains for promotion, each handed out as a Future that resolves to a FinalModel.

Promotion waits on its futures instead of polling the engine; whatever happens to the task
(trained, failed, engine closed) the future resolves, so no caller waits forever.

Where the engine retrains early (the batch), a codec's retrain starts the moment it passes: started
after the last verdict, the retrains of a 14-codec run queued behind its slowest codec while workers
idled; started at each verdict they fill the pool while other codecs still train. A codec whose folds
are tasks of their own (``split_folds_rows``) starts its retrain as soon as it is queued, behind its
fold tasks: five folds on two workers leave one idle beside the fifth, and the retrain fills it. Such a
table never has a nested model choice (``NESTED_MAX_ROWS``), so the model is the one its verdict would
have asked for; if the codec fails, the retrain is not used.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from trainer.engine.job_book import Verdicts
from trainer.ingest.corpus import CodecData
from trainer.learning.events import CodecFinished, Event, FinalModelDone
from trainer.learning.planning import fold_groups
from trainer.learning.profiles import TrainingProfile
from trainer.learning.results import FinalModel
from trainer.learning.selection import nested_applies
from trainer.learning.tasks import FinalTask

if TYPE_CHECKING:
    from trainer.learning.model import MLPWeights  # torch: only worker processes import it

BuildTask = Callable[[CodecData], FinalTask]
Enqueue = Callable[[FinalTask], None]


class FinalTrainer:
    """``early`` (the batch): retrains start at the verdict (or beside the folds), and a retrain that failed
    is the answer for its table, since a batch asks once. Otherwise (the console) retrains start when a plan
    asks, and one that failed starts afresh on the operator's next request."""

    def __init__(self, build: BuildTask, enqueue: Enqueue, early: bool = False) -> None:
        self._build, self._enqueue, self.early = build, enqueue, early
        self._waiting: dict[int, tuple[FinalTask, Future[FinalModel]]] = {}
        self._latest: dict[str, tuple[CodecData, Future[FinalModel]]] = {}  # per codec: its last retrain

    def start(self, data: CodecData) -> Future[FinalModel]:
        """The retrain of exactly ``data``: the last one started for that very table, unless it failed and
        failures are not kept (so the plan asked for again ships the model the first one showed), else a new one."""
        kept = self._latest.get(data.codec)
        if kept is not None and kept[0] is data and (self.early or not _failed(kept[1])):
            return kept[1]
        task = self._build(data)
        future: Future[FinalModel] = Future()
        future.set_running_or_notify_cancel()
        self._waiting[id(task)] = (task, future)
        self._latest[data.codec] = (data, future)
        self._enqueue(task)
        return future

    def start_beside_folds(self, profile: TrainingProfile, data: CodecData) -> None:
        """Early, a job just opened whose folds are separate tasks and has no nested model choice: start now."""
        if (self.early and not data.n_generated and len(fold_groups(profile, data.n_rows)) > 1
                and not nested_applies(profile, data.n_rows, 2)):
            self.start(data)

    def start_passed(self, events: list[Event], verdicts: Verdicts) -> list[Event]:
        """Early, start the retrain of each codec these events say passed, on the table its verdict judged."""
        for event in events if self.early else []:
            if isinstance(event, CodecFinished) and event.result.status == "pass":
                _result, data = verdicts.judged()[event.result.codec]
                if data is not None and not data.n_generated:
                    self.start(data)
        return events

    def finished(self, task: FinalTask, weights: MLPWeights) -> list[Event]:
        self._resolve(task, FinalModel(task.codec, weights, None))
        return [FinalModelDone(task.codec, task.target.shape[0])]

    def failed(self, task: FinalTask, reason: str) -> list[Event]:
        self._resolve(task, FinalModel(task.codec, None, reason))
        return [FinalModelDone(task.codec, task.target.shape[0], reason)]

    def abandon_all(self, reason: str) -> None:
        """The engine is closing: every retrain not yet finished resolves as failed."""
        for task, _future in list(self._waiting.values()):
            self._resolve(task, FinalModel(task.codec, None, reason))

    def _resolve(self, task: FinalTask, model: FinalModel) -> None:
        entry = self._waiting.pop(id(task), None)
        if entry is not None:
            entry[1].set_result(model)


def _failed(future: Future[FinalModel]) -> bool:
    return future.done() and future.result().weights is None
