"""Full-corpus retrains for promotion, each handed out as a Future that resolves to a FinalModel.

Promotion waits on its futures instead of polling the engine; whatever happens to the task
(trained, failed, engine closed) the future resolves, so no caller waits forever.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING

from trainer.learning.events import Event, LogLine
from trainer.learning.results import FinalModel
from trainer.learning.tasks import FinalTask

if TYPE_CHECKING:
    from trainer.learning.model import MLPWeights  # torch: only worker processes import it


class FinalTrainer:
    def __init__(self) -> None:
        self._waiting: dict[int, tuple[FinalTask, Future[FinalModel]]] = {}

    def track(self, task: FinalTask) -> Future[FinalModel]:
        future: Future[FinalModel] = Future()
        future.set_running_or_notify_cancel()
        self._waiting[id(task)] = (task, future)
        return future

    def finished(self, task: FinalTask, weights: MLPWeights) -> list[Event]:
        self._resolve(task, FinalModel(task.codec, weights, None))
        return [LogLine(f"{task.codec}: full-corpus model trained on {task.target.shape[0]} rows")]

    def failed(self, task: FinalTask, reason: str) -> list[Event]:
        self._resolve(task, FinalModel(task.codec, None, reason))
        return [LogLine(f"{task.codec}: full-corpus retrain failed: {reason}")]

    def abandon_all(self, reason: str) -> None:
        """The engine is closing: every retrain not yet finished resolves as failed."""
        for task, _future in list(self._waiting.values()):
            self._resolve(task, FinalModel(task.codec, None, reason))

    def _resolve(self, task: FinalTask, model: FinalModel) -> None:
        entry = self._waiting.pop(id(task), None)
        if entry is not None:
            entry[1].set_result(model)
