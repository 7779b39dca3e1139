"""Incremental reading of files that grow, shrink, get replaced or vanish while watched."""

import hashlib
import os

from tests.test_corpus import GOOD
from trainer.ingest.live import IncrementalCorpus

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


def test_one_file_reached_by_two_spellings_is_read_once(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "c.jsonl"
    path.write_bytes(ROW * 3)
    (tmp_path / "link.jsonl").symlink_to(path)
    live = IncrementalCorpus()
    updates = live.refresh_all([path, tmp_path / "sub" / ".." / "c.jsonl", tmp_path / "link.jsonl"])
    assert sum(sum(u.rows_by_codec.values()) for u in updates) == 3
    # A watcher may report the file under yet another spelling: still the same file, nothing new.
    assert live.refresh(os.path.relpath(path)).rows_by_codec == {}
    assert live.corpus().rows_accepted == 3 and len(live.paths) == 1


def test_a_snapshot_names_each_file_by_the_bytes_it_parsed_not_the_file_as_it_is_later(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + ROW * 3 + GOOD[:20])  # a BOM, three lines, a partial fourth
    live = IncrementalCorpus()
    live.refresh(str(path))
    parsed = path.read_bytes()[: -20]
    snapshot = live.corpus().for_codec("libx264")
    assert snapshot.provenance == [{"path": os.path.realpath(path), "rows": 3, "bytes": len(parsed),
                                    "sha256": hashlib.sha256(parsed).hexdigest()}]
    with path.open("ab") as handle:
        handle.write(GOOD[20:] + b"\n" + ROW)
    live.refresh(str(path))
    grown = live.corpus().for_codec("libx264").provenance[0]
    assert grown["rows"] == 5 and grown["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert snapshot.provenance[0]["sha256"] == hashlib.sha256(parsed).hexdigest()  # the snapshot keeps its own
    path.write_bytes(ROW)  # truncated: re-read whole, digest starts over
    live.refresh(str(path))
    assert live.corpus().for_codec("libx264").provenance[0]["sha256"] == hashlib.sha256(ROW).hexdigest()
