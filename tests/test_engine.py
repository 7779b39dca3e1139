"""The engine on real executors: cancel, supersede, errors, and executors other than a process pool."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from trainer.engine.engine import TrainingEngine
from trainer.executors.process_pool import process_pool_factory
from trainer.ingest.synthetic import synthetic_codec_data
from trainer.learning.events import CodecCancelled, CodecFinished, CodecQueued, FoldFinished
from trainer.learning.profiles import DEFAULT_PROFILE

FAST = replace(DEFAULT_PROFILE, epochs=5)


def make_engine(events, factory=None, profile=FAST):
    return TrainingEngine(profile, seed=0, emit=events.append, executor_factory=factory or process_pool_factory(2),
                          workers=2)


@pytest.mark.slow
def test_any_executor_works_and_folds_stream_before_the_verdict():
    events = []
    engine = make_engine(events, factory=lambda: ThreadPoolExecutor(2))
    try:
        engine.submit("libx264", lambda: synthetic_codec_data("libx264", 6, 10, 0.5, 0))
        results = engine.run_until_idle()
    finally:
        engine.close()
    kinds = [type(e) for e in events]
    assert kinds[0] is CodecQueued and kinds[-1] is CodecFinished
    assert kinds.count(FoldFinished) == 5
    assert [e.folds_done for e in events if isinstance(e, FoldFinished)] == [1, 2, 3, 4, 5]
    assert results["libx264"].status in {"pass", "fail"} and len(results["libx264"].folds) == 5


@pytest.mark.slow
def test_resubmitting_a_codec_supersedes_it_and_reports_once():
    events = []
    engine = make_engine(events)
    try:
        engine.submit("libx264", lambda: synthetic_codec_data("libx264", 6, 10, 0.5, 0))
        engine.step(0.0)  # the first job starts
        engine.submit("libx264", lambda: synthetic_codec_data("libx264", 7, 10, 0.5, 0))
        engine.run_until_idle()
    finally:
        engine.close()
    finished = [e.result for e in events if isinstance(e, CodecFinished)]
    assert len(finished) == 1 and finished[0].n_distinct_sources == 7


@pytest.mark.slow
def test_cancel_drops_queued_work():
    events = []
    engine = make_engine(events, profile=replace(FAST, sequential_codecs=True))
    try:
        engine.submit("libx264", lambda: synthetic_codec_data("libx264", 6, 10, 0.5, 0))
        engine.submit("libx265", lambda: synthetic_codec_data("libx265", 6, 10, 0.5, 0))
        assert engine.cancel("libx265")
        assert not engine.cancel("av1_qsv")
        results = engine.run_until_idle()
    finally:
        engine.close()
    assert set(results) == {"libx264"}
    assert any(isinstance(e, CodecCancelled) and e.codec == "libx265" for e in events)


@pytest.mark.slow
def test_a_codec_that_cannot_load_is_an_error_and_the_run_goes_on():
    events = []
    engine = make_engine(events)

    def broken():
        raise OSError("corpus vanished")

    try:
        engine.submit("libx265", broken)
        engine.submit("libx264", lambda: synthetic_codec_data("libx264", 6, 10, 0.5, 0))
        results = engine.run_until_idle()
    finally:
        engine.close()
    assert results["libx265"].status == "error" and "corpus vanished" in results["libx265"].failure_reasons[0]
    assert results["libx264"].status in {"pass", "fail"}


def test_after_a_pool_break_the_lost_task_fails_and_a_stranded_one_runs_again_at_most_twice():
    from concurrent.futures import Future

    from trainer.engine.dispatcher import Dispatcher

    dispatcher = Dispatcher(host=None, capacity=2)  # type: ignore[arg-type]  # nothing is submitted here
    on_dead_worker, bystander = object(), object()
    lost_future = Future()
    again, failed = dispatcher.rerun_or_fail({lost_future: on_dead_worker, Future(): bystander}, {lost_future}, 2)
    assert again == [bystander] and failed == [on_dead_worker]
    assert list(dispatcher.queued) == [bystander]
    for expected_again in ([bystander], []):  # its second re-run, then no more
        dispatcher.queued.clear()
        again, failed = dispatcher.rerun_or_fail({Future(): bystander}, set(), 2)
        assert again == expected_again and failed == ([] if expected_again else [bystander])


def test_a_task_whose_own_worker_died_runs_again_up_to_max_deaths_then_fails():
    from concurrent.futures import Future

    from trainer.engine.dispatcher import Dispatcher

    dispatcher = Dispatcher(host=None, capacity=2)  # type: ignore[arg-type]  # nothing is submitted here
    on_dead_worker = object()
    for expected_again in ([on_dead_worker], [on_dead_worker], []):  # two deaths re-run, the third fails
        dispatcher.queued.clear()
        lost = Future()
        again, failed = dispatcher.rerun_or_fail({lost: on_dead_worker}, {lost}, 2, max_deaths=2)
        assert again == expected_again and failed == ([] if expected_again else [on_dead_worker])
    assert dispatcher.deaths == {} and dispatcher.retries == {}  # its counts went with it
