"""Every message the console UI receives from its background threads, in one place.

Each is a dataclass (Textual's ``Message`` initialises itself in ``__post_init__`` for them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from trainer.run import CorpusStats, Event, PromotionPlan

__all__ = ["AdviceReady", "CorpusStats", "CorpusUpdated", "EngineEvent", "LogWritten", "PlanApplied", "PlanReady",
           "ProbeCounted"]


@dataclass
class EngineEvent(Message):
    """A training event (queued, fold landed, verdict, cancelled, log line) from the engine thread."""

    event: Event


@dataclass
class CorpusUpdated(Message):
    """The live corpus changed; ``changed_codecs`` had rows added or removed.

    Updates that queue up while the UI is busy replace each other: the stats are a whole snapshot, so
    only the newest counts, and it takes over the codecs (and the initial flag) of those it replaces,
    so no change is lost.
    """

    stats: CorpusStats
    changed_codecs: set[str] = field(default_factory=set)
    initial: bool = False

    def can_replace(self, message: Message) -> bool:
        """Textual asks this (the older, still queued) whether ``message`` (the next one queued) supersedes it."""
        if not isinstance(message, CorpusUpdated):
            return False
        message.changed_codecs |= self.changed_codecs
        message.initial = message.initial or self.initial
        return True


@dataclass
class ProbeCounted(Message):
    """Rows by where their probe inputs come from, counted once a training snapshot built the corpus."""

    counts: dict[str, int]


@dataclass
class LogWritten(Message):
    """A line of the run log, for the log pane."""

    text: str


@dataclass
class PlanReady(Message):
    """A promotion plan was built (or could not be, with the reason)."""

    plan: PromotionPlan | None
    error: str | None = None
    regressions_allowed: bool = False  # the operator already confirmed them a second time


@dataclass
class PlanApplied(Message):
    """The plan was written (the files and the backup), or not, with the reason."""

    written: list[str]
    backup: str | None
    error: str | None = None


@dataclass
class AdviceReady(Message):
    """The data advisor finished for a codec (or could not run, with the reason)."""

    codec: str
    advice: dict[str, object] | None
    error: str | None = None
