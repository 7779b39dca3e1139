"""Running the data advisor: its fold tasks on an executor of their own, after (or beside) training.

Kept out of the training engine on purpose: advice is asked for after a verdict (``--advise``,
the console's advice view), never decides one, and must not delay the gate. It uses the same
executor factory as training (the fork-server pool or the Dask cluster), so its tasks spread over
the same workers; a task that fails costs only that codec's advice, recorded as ``error``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait

from trainer.engine.job_book import Verdicts
from trainer.executors.host import ExecutorFactory, ExecutorHost
from trainer.ingest.corpus import CodecData
from trainer.learning.advice_task import AdviceOutcome, AdviceTask, run_advice_task
from trainer.learning.advisor import assemble_advice, plan_advice
from trainer.learning.profiles import TrainingProfile
from trainer.outputs.advice_text import advice_lines

POLL_SECONDS = 0.5


def advise(datas: Mapping[str, CodecData], profile: TrainingProfile, seed: int, executor_factory: ExecutorFactory,
           should_stop: Callable[[], bool] = lambda: False,
           on_advice: Callable[[str, dict[str, object]], None] = lambda codec, advice: None) -> dict[str, dict]:
    """Advice for each codec (same seed as its verdict, so the same folds); codecs a stop cut short are absent.

    Parameters
    ----------
    datas : mapping of str to CodecData
        Each codec's table to advise on, by codec name; codecs are advised in this order.
    profile : TrainingProfile
        The training settings the advisor's fold models train with (those of the verdict).
    seed : int
        The run seed, the verdict's: the advisor's folds are the verdict's folds.
    executor_factory : ExecutorFactory
        Makes the executor the advice tasks run on (the fork-server pool or the Dask cluster).
    should_stop : callable
        Polled while waiting; True stops the advice, kills the executor, and leaves later codecs out.
    on_advice : callable
        Called with (codec, advice) as each codec's advice is complete.
    """
    host = ExecutorHost(executor_factory)
    plans = {codec: plan_advice(data, profile, seed) for codec, data in datas.items()}
    advice: dict[str, dict] = {}
    stopped = False
    try:
        futures = {codec: [host.submit(run_advice_task, task) for task in tasks] for codec, tasks in plans.items()}
        for codec, pending in futures.items():
            if not _wait_all(pending, should_stop):
                stopped = True
                break
            advice[codec] = _collect(datas[codec], plans[codec], pending, seed)
            on_advice(codec, advice[codec])
    finally:
        host.close(kill=stopped)
    return advice


def _wait_all(futures: list[Future], should_stop: Callable[[], bool]) -> bool:
    """Wait for every future, False as soon as a stop is requested."""
    pending = set(futures)
    while pending:
        if should_stop():
            return False
        _done, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
    return not should_stop()


def _collect(data: CodecData, tasks: list[AdviceTask], futures: list[Future], seed: int) -> dict[str, object]:
    try:
        outcomes: list[AdviceOutcome] = [future.result() for future in futures]
        return assemble_advice(data, tasks, outcomes, seed)
    except Exception as exc:  # this codec's advice only; the verdict stands
        return {"sources_now": data.n_sources, "verdict": None, "error": f"{type(exc).__name__}: {exc}"}


def advise_failing(verdicts: Verdicts, profile: TrainingProfile, seed: int, executor_factory: ExecutorFactory,
                   log: Callable[[str], None], should_stop: Callable[[], bool]) -> None:
    """``--advise``: advice for every codec that failed the gate, set on its result and logged as it lands.

    Each codec is advised on the table its verdict judged (the engine's, in memory): no corpus file is read again.

    Parameters
    ----------
    verdicts : Verdicts
        The engine's judged codecs, each with its result and the table it was judged on.
    profile, seed, executor_factory : as in ``advise``
        The verdict's training settings and run seed (so the verdict's folds), and what makes the executor.
    log : callable
        Takes one message (str) for the run log: what is advised, each codec's advice lines, a stop.
    should_stop : callable
        Polled while waiting; True stops the advice (codecs without advice have none in the report).
    """
    judged = verdicts.judged()
    failing: dict[str, CodecData] = {codec: data for codec, (result, data) in judged.items()
                                     if result.status == "fail" and data is not None}
    if not failing:
        log("advice: no codec failed the gate; nothing to advise")
        return
    log(f"advice: learning curves over sources for {len(failing)} failing codec(s): {', '.join(failing)}")

    def landed(codec: str, advice: dict[str, object]) -> None:
        judged[codec][0].advice = advice
        log("\n".join(f"{codec} {line}" for line in advice_lines(advice)))

    advise(failing, profile, seed, executor_factory, should_stop, landed)
    if should_stop():
        log("advice: stopped; codecs without advice have none in the report")
