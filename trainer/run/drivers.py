"""The two ways an engine is driven: drained once (batch) or served until told to stop (console)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from trainer.executors.dask_cluster import ClusterUnavailable
from trainer.learning.events import Event, LogLine

if TYPE_CHECKING:
    from trainer.learning.results import CodecResult

POLL_SECONDS = 0.1


class Steppable(Protocol):
    """What the loops need of an engine; a protocol, so this module never imports the engine that imports it."""

    @property
    def results(self) -> dict[str, CodecResult]: ...

    def step(self, timeout: float) -> bool: ...

    def wait_for_work(self, timeout: float) -> None: ...


def run_until_idle(engine: Steppable, should_stop: Callable[[], bool]) -> dict[str, CodecResult]:
    """Drain the queue; ``should_stop`` is checked between steps (a stop signal ends the wait).

    Errors propagate: the batch turns them into a report and an exit code. A cluster whose
    scheduler went and stayed gone is ``ClusterUnavailable`` (exit 2) once every codec has its
    verdict (those it cost are ``error``, naming the scheduler).
    """
    while not should_stop() and engine.step(POLL_SECONDS):
        pass
    gone = engine.executor_gone()
    if gone is not None and not should_stop():  # the codecs it cost are error; the run is exit 2
        raise ClusterUnavailable(f"cluster unavailable: {gone}")
    return engine.results


def serve(engine: Steppable, stop: threading.Event, emit: Callable[[Event], None]) -> None:
    """Keep working and waiting for submissions until ``stop`` is set.

    An unexpected error is reported as a log event and serving goes on: the console must
    outlive any one bad job.
    """
    while not stop.is_set():
        try:
            idle = not engine.step(POLL_SECONDS)
        except Exception as exc:
            emit(LogLine(f"engine error (serving continues): {type(exc).__name__}: {exc}"))
            idle = True
        if idle:
            engine.wait_for_work(POLL_SECONDS)
