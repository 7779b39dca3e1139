"""Incremental reading of files that grow, shrink, get replaced or vanish while watched."""

import os

from tests.test_corpus import GOOD
from trainer.ingest import IncrementalCorpus

ROW = GOOD + b"\n"


def test_appends_are_read_incrementally_and_a_partial_line_waits(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(ROW * 3)
    live = IncrementalCorpus()
    first = live.refresh(str(path))
    assert first.rows_by_codec == {"libx264": 3} and not first.reset
    with path.open("ab") as handle:
        handle.write(ROW + GOOD[:20])
    update = live.refresh(str(path))
    assert update.rows_by_codec == {"libx264": 1} and update.pending_bytes == 20 and update.rejected == 0
    with path.open("ab") as handle:
        handle.write(GOOD[20:] + b"\n{broken\n")
    update = live.refresh(str(path))
    assert update.rows_by_codec == {"libx264": 1} and update.rejected == 1 and update.pending_bytes == 0
    corpus = live.corpus()
    assert corpus.rows_accepted == 5
    assert corpus.rejections.examples["malformed-json"][0].startswith(f"{path}:6:")
    assert live.refresh(str(path)).rows_by_codec == {}  # nothing new: nothing re-read
    summary = live.summary()
    assert summary.rows_accepted == 5 and summary.rows_per_codec["libx264"] == 5
    assert summary.sources_per_codec["libx264"] == 1 and summary.rejections.counts["malformed-json"] == 1


def test_truncated_replaced_and_deleted_files_are_re_read_whole(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(ROW * 4)
    live = IncrementalCorpus()
    live.refresh(str(path))
    path.write_bytes(ROW)  # truncated in place
    update = live.refresh(str(path))
    assert update.reset and live.corpus().rows_accepted == 1

    replacement = tmp_path / "new.jsonl"
    replacement.write_bytes(ROW * 2 + ROW.replace(b"libx264", b"libx265"))
    os.replace(replacement, path)  # replaced: new inode
    update = live.refresh(str(path))
    assert update.reset and live.corpus().rows_per_codec()["libx265"] == 1
    assert live.corpus().rows_accepted == 3

    path.unlink()
    update = live.refresh(str(path))
    assert update.reset and live.corpus().rows_accepted == 0 and live.paths == []
