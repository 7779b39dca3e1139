"""Everything the engine reports while it runs; the batch prints these, the console renders them."""

from __future__ import annotations

from dataclasses import dataclass, field

from trainer.ingest.corpus import CodecData
from trainer.learning.results import CodecResult, FoldResult


@dataclass(frozen=True)
class CodecQueued:
    codec: str
    n_rows: int
    n_sources: int
    n_folds: int
    # The table queued (no copy): outputs.describe says what the log needs of its inputs (frame sizes withheld
    # or taken on trust, --harness-probes) from it.
    data: CodecData | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FoldFinished:
    result: FoldResult
    folds_done: int
    folds_total: int


@dataclass(frozen=True)
class CodecFinished:
    result: CodecResult


@dataclass(frozen=True)
class CodecCancelled:
    codec: str


@dataclass(frozen=True)
class TaskRetried:
    """A fold task of ``codec`` runs again after an executor fault (``reason``: "worker died")."""

    codec: str
    reason: str


@dataclass(frozen=True)
class LogLine:
    text: str


Event = CodecQueued | FoldFinished | CodecFinished | CodecCancelled | TaskRetried | LogLine
