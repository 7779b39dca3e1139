"""What a batch is doing now: the stage, its share done, and a line at least every 30 s while it lasts.

A million-row codec trains for minutes between two log lines of its own; an operator (or a CI job's
no-output timeout) needs to see it is alive and how far it got. The same stage names an out-of-memory stop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from trainer.learning.events import CodecFinished, CodecQueued, Event, FoldFinished

PROGRESS_EVERY_S = 30.0


class BatchProgress:
    """Fed the engine's events and the batch's stages; ``describe`` says where the run is."""

    def __init__(self, line: Callable[[str], None], on_verdict: Callable[[], None] | None = None,
                 every_s: float = PROGRESS_EVERY_S) -> None:
        self._line, self._on_verdict, self._every_s = line, on_verdict, every_s
        self._lock = threading.Lock()
        self._stage, self._stage_started = "starting", time.monotonic()
        self.folds_total = self.folds_done = self.codecs_queued = self.codecs_judged = 0
        self.largest: tuple[str, int] | None = None  # the codec with the most rows in training, and its rows
        self.sizes: dict[str, tuple[int, int]] = {}  # codec -> (rows, sources) of its job, once queued
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)

    def stage(self, name: str) -> None:
        with self._lock:
            self._stage, self._stage_started = name, time.monotonic()

    def on_event(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, CodecQueued):
                self.folds_total += event.n_folds
                self.codecs_queued += 1
                self.sizes[event.codec] = (event.n_rows, event.n_sources)
                if self.largest is None or event.n_rows > self.largest[1]:
                    self.largest = (event.codec, event.n_rows)
            elif isinstance(event, FoldFinished):
                self.folds_done += 1
            elif isinstance(event, CodecFinished):
                self.codecs_judged += 1
        if isinstance(event, CodecFinished) and self._on_verdict is not None:
            self._on_verdict()

    def describe(self) -> str:
        """The stage, and for training the folds and codecs judged so far and the largest table."""
        with self._lock:
            text = self._stage
            if self._stage == "training" and self.folds_total:
                text += (f": {self.folds_done} of {self.folds_total} folds judged "
                         f"({self.folds_done / self.folds_total:.0%}), "
                         f"{self.codecs_judged} of {self.codecs_queued} codecs")
            if self.largest is not None and not self._stage.startswith(("starting", "ingest")):
                text += f"; largest table {self.largest[0]} with {self.largest[1]:,} rows"
            return text

    def __enter__(self) -> BatchProgress:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _tick(self) -> None:
        while not self._stop.wait(self._every_s):
            with self._lock:
                seconds = time.monotonic() - self._stage_started
            self._line(f"progress: {self.describe()} ({seconds:.0f} s in this stage)")
