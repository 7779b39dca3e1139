"""The job book on its own: every transition of a codec's job, no executor, no threads."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.engine.job_book import JobBook
from trainer.ingest.corpus import CodecData
from trainer.learning.events import CodecCancelled, CodecFinished, CodecQueued, FoldFinished
from trainer.learning.results import FoldResult

CODEC = "libx264"


def _data(n_sources: int = 5, rows_per_source: int = 4, codec: str = CODEC) -> CodecData:
    n = n_sources * rows_per_source
    return CodecData(
        codec=codec,
        features=np.zeros((n, 14), np.float32),
        target=np.linspace(20, 90, n, dtype=np.float32),
        sources=np.repeat([f"src{i}" for i in range(n_sources)], rows_per_source).astype(str),
        provenance=[{"path": "corpus.jsonl", "rows": n}],
    )


def _folds(plcc: float, codec: str = CODEC, indices=range(5)) -> list[FoldResult]:
    return [FoldResult(codec, i, (f"src{i}",), plcc, plcc, 1.0, 16, 4, 0.1) for i in indices]


def _open(book: JobBook, codec: str = CODEC, n_tasks: int = 1, data: CodecData | None = None) -> int:
    book.request(codec, lambda: data)
    taken = book.take_request(one_codec_at_a_time=False)
    assert taken is not None and taken[0] == codec
    job_id, transition = book.open_job(codec, data or _data(codec=codec), n_tasks, 5)
    assert isinstance(transition.events[-1], CodecQueued)
    return job_id


def test_a_job_with_all_folds_done_is_judged_by_the_gate():
    book = JobBook()
    job_id = _open(book)
    events = book.task_done(job_id, _folds(0.99))
    assert [type(e) for e in events] == [FoldFinished] * 5 + [CodecFinished]
    assert events[-1].result.status == "pass" and book.results[CODEC].status == "pass"
    assert book.jobs == {} and book.active == {}


def test_folds_of_several_tasks_are_collected_until_the_last_task():
    book = JobBook()
    job_id = _open(book, n_tasks=2)
    first = book.task_done(job_id, _folds(0.99, indices=range(3)))
    assert [type(e) for e in first] == [FoldFinished] * 3
    last = book.task_done(job_id, _folds(0.90, indices=range(3, 5)))
    assert isinstance(last[-1], CodecFinished) and last[-1].result.status == "fail"
    assert [f.fold_index for f in last[-1].result.folds] == [0, 1, 2, 3, 4]


def test_untrainable_and_unloadable_codecs_get_their_verdict_without_a_job():
    book = JobBook()
    few = book.verdict_without_training(CODEC, _data(n_sources=3))
    assert few is not None and few[0].result.status == "insufficient-sources"
    assert book.verdict_without_training(CODEC, _data()) is None
    failed = book.load_failed("libx265", OSError("gone"))
    assert failed[0].result.status == "error"
    assert failed[0].result.failure_reasons == ["corpus load failed: OSError: gone"]
    assert book.jobs == {}


def test_a_newer_request_supersedes_the_running_job_whose_late_results_are_discarded():
    book = JobBook()
    old = _open(book, n_tasks=2)
    transition = book.request(CODEC, lambda: None)
    assert transition.drop_queued_tasks_of == old and transition.events == []
    assert book.tasks_dropped(old, 1) == []  # one task was still queued, the other runs on
    assert book.task_done(old, _folds(0.99)) == []  # late: no folds, no verdict
    assert old not in book.jobs
    new = _open_taken(book)
    assert isinstance(book.task_done(new, _folds(0.98))[-1], CodecFinished)


def _open_taken(book: JobBook) -> int:
    taken = book.take_request(one_codec_at_a_time=False)
    assert taken is not None
    job_id, _ = book.open_job(taken[0], _data(), 1, 5)
    return job_id


def test_a_request_that_arrives_while_its_data_loads_supersedes_when_the_new_job_opens():
    book = JobBook()
    old = _open(book)
    book.request(CODEC, lambda: None)
    book.take_request(one_codec_at_a_time=False)
    new, transition = book.open_job(CODEC, _data(), 1, 5)
    assert book.active[CODEC] == new
    assert book.task_done(old, _folds(0.99)) == []  # the old one ends silently
    assert book.task_done(new, _folds(0.99))[-1].result.status == "pass"


def test_cancelling_a_queued_request_reports_at_once():
    book = JobBook()
    book.request(CODEC, lambda: None)
    found, transition = book.cancel(CODEC)
    assert found and transition.events == [CodecCancelled(CODEC)]
    assert book.take_request(one_codec_at_a_time=False) is None
    assert book.cancel(CODEC)[0] is False


def test_cancelling_a_running_job_reports_once_when_its_last_task_ends():
    book = JobBook()
    job_id = _open(book, n_tasks=2)
    found, transition = book.cancel(CODEC)
    assert found and transition.drop_queued_tasks_of == job_id and transition.events == []
    assert book.tasks_dropped(job_id, 1) == []
    assert book.task_done(job_id, _folds(0.99)) == [CodecCancelled(CODEC)]
    assert CODEC not in book.results
    assert book.cancel(CODEC)[0] is False


def test_cancel_after_supersede_still_ends_the_codec_as_cancelled():
    """The console row must not stay 'queued': the superseded job reports the cancel."""
    book = JobBook()
    job_id = _open(book)
    book.request(CODEC, lambda: None)  # newer data: job superseded, request queued
    found, _ = book.cancel(CODEC)
    assert found and book.take_request(one_codec_at_a_time=False) is None
    assert book.task_done(job_id, _folds(0.99)) == [CodecCancelled(CODEC)]
    assert book.active_codecs() == set()


def test_a_request_after_a_cancel_revives_the_codec_without_a_stale_cancel_event():
    book = JobBook()
    old = _open(book)
    book.cancel(CODEC)
    book.request(CODEC, lambda: None)
    assert book.task_done(old, _folds(0.99)) == []  # no CodecCancelled after the new request
    new = _open_taken(book)
    assert book.task_done(new, _folds(0.99))[-1].result.status == "pass"


@pytest.mark.parametrize("reason", ["ValueError: bad fold", "worker process died (killed or out of memory)"])
def test_a_failed_task_ends_only_its_codec_in_error_once_nothing_of_it_runs(reason):
    book = JobBook()
    failing = _open(book, n_tasks=3)
    other = _open(book, codec="libx265", data=_data(codec="libx265"))
    transition = book.task_failed(failing, reason)
    assert transition.drop_queued_tasks_of == failing and transition.events == []  # one task still running
    assert book.tasks_dropped(failing, 1) == []
    events = book.task_done(failing, _folds(0.99))
    assert events[-1].result.status == "error" and events[-1].result.failure_reasons == [reason]
    assert [type(e) for e in events] == [FoldFinished] * 5 + [CodecFinished]  # folds shown, verdict error
    assert book.task_done(other, _folds(0.99, codec="libx265"))[-1].result.status == "pass"


def test_one_job_at_a_time_holds_requests_until_the_open_job_ends():
    book = JobBook()
    job_id = _open(book)
    book.request("libx265", lambda: None)
    assert book.take_request(one_codec_at_a_time=True) is None
    assert book.take_request(one_codec_at_a_time=False) is not None
    book.request("libx265", lambda: None)
    book.task_done(job_id, _folds(0.99))
    assert book.take_request(one_codec_at_a_time=True)[0] == "libx265"


def test_active_codecs_are_the_requested_and_the_training_ones():
    book = JobBook()
    _open(book)
    book.request("libx265", lambda: None)
    assert book.active_codecs() == {CODEC, "libx265"}


def test_a_synthetic_book_never_passes():
    book = JobBook(synthetic=True)
    job_id = _open(book)
    result = book.task_done(job_id, _folds(0.99))[-1].result
    assert result.status == "fail" and any("synthetic" in r for r in result.failure_reasons)


def test_each_verdict_keeps_the_data_it_judged_and_a_newer_or_cancelled_job_does_not_replace_it():
    book = JobBook()
    judged_data = _data()
    first = _open(book, data=judged_data)
    book.task_done(first, _folds(0.99))
    assert book.results.judged()[CODEC] == (book.results[CODEC], judged_data)
    newer_data = _data(rows_per_source=8)
    newer = _open(book, data=newer_data)  # rows appended: a newer job starts and is still training
    assert book.results.judged()[CODEC][1] is judged_data  # the verdict shown is still the one judged
    book.cancel(CODEC)
    book.task_done(newer, _folds(0.99))  # its last task ends: cancelled, its snapshot dropped
    assert book.results.judged()[CODEC][1] is judged_data
    third_data = _data(rows_per_source=6)
    third = _open(book, data=third_data)
    book.task_done(third, _folds(0.90))
    result, data = book.results.judged()[CODEC]
    assert result.status == "fail" and data is third_data and book.results[CODEC] is result


def test_a_codec_whose_data_is_loading_is_still_active():
    """Between taking a request and opening its job the codec was in neither table: promotion and
    the quit dialog then thought it idle."""
    book = JobBook()
    book.request(CODEC, _data)
    assert book.take_request(one_codec_at_a_time=False) is not None
    assert book.active_codecs() == {CODEC}
    book.open_job(CODEC, _data(), 1, 5)
    assert book.active_codecs() == {CODEC} and book.loading == set()
    book.request("libx265", _data)
    book.take_request(one_codec_at_a_time=False)
    book.verdict_without_training("libx265", _data(n_sources=2, codec="libx265"))
    book.request("h264_amf", _data)
    book.take_request(one_codec_at_a_time=False)
    book.load_failed("h264_amf", OSError("gone"))
    assert book.active_codecs() == {CODEC}
