"""Every message the console UI receives from its background threads, in one place."""

from __future__ import annotations

from textual.message import Message

from trainer.learning.events import Event
from trainer.run.live_corpus import CorpusStats
from trainer.run.promotion import PromotionPlan

__all__ = ["AdviceReady", "CorpusStats", "CorpusUpdated", "EngineEvent", "LogWritten", "PlanApplied", "PlanReady",
           "ProbeCounted"]


class EngineEvent(Message):
    """A training event (queued, fold landed, verdict, cancelled, log line) from the engine thread."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class CorpusUpdated(Message):
    """The live corpus changed; ``changed_codecs`` had rows added or removed."""

    def __init__(self, stats: CorpusStats, changed_codecs: set[str], initial: bool = False) -> None:
        super().__init__()
        self.stats = stats
        self.changed_codecs = changed_codecs
        self.initial = initial


class ProbeCounted(Message):
    """Rows by where their probe inputs come from, counted once a training snapshot built the corpus."""

    def __init__(self, counts: dict[str, int]) -> None:
        super().__init__()
        self.counts = counts


class LogWritten(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class PlanReady(Message):
    """A promotion plan was built (or could not be, with the reason)."""

    def __init__(self, plan: PromotionPlan | None, error: str | None = None, regressions_allowed: bool = False) -> None:
        super().__init__()
        self.plan = plan
        self.error = error
        self.regressions_allowed = regressions_allowed  # the operator already confirmed them a second time


class PlanApplied(Message):
    def __init__(self, written: list[str], backup: str | None, error: str | None = None) -> None:
        super().__init__()
        self.written = written
        self.backup = backup
        self.error = error


class AdviceReady(Message):
    """The data advisor finished for a codec (or could not run, with the reason)."""

    def __init__(self, codec: str, advice: dict[str, object] | None, error: str | None = None) -> None:
        super().__init__()
        self.codec = codec
        self.advice = advice
        self.error = error
