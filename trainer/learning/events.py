"""Everything the engine reports while it runs; the batch prints these, the console renders them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
    # A mixed table's rows that state a quality, the only ones its models train on (learning.planning.fold_plan)
    trained_rows: np.ndarray | None = field(default=None, compare=False, repr=False)


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
class FinalModelDone:
    """A full-corpus retrain ended: trained on ``n_rows`` rows, or failed with ``error``."""

    codec: str
    n_rows: int
    error: str | None = None


@dataclass(frozen=True)
class WorkerDied:
    """A worker process died while running ``codec``'s task (``exit_code``: minus its signal, or its status)."""

    pid: int
    exit_code: int
    codec: str


@dataclass(frozen=True)
class PoolReplaced:
    """The executor broke and a fresh one starts: ``n_lost`` tasks lost for good (of ``lost_codecs``), ``n_again``
    queued again."""

    n_lost: int
    lost_codecs: tuple[str, ...]
    n_again: int


@dataclass(frozen=True)
class EngineError:
    """An unexpected error in the console's engine loop (``error``: its type and message); serving goes on."""

    error: str


Event = (CodecQueued | FoldFinished | CodecFinished | CodecCancelled | TaskRetried | FinalModelDone | WorkerDied
         | PoolReplaced | EngineError)
