"""After training, no stage reads a corpus file again: the planner, the retrains and the advisor take the
tables the engine judged (issue #41). Counted on the one function that opens corpus files, in real
batches (real pool, real onnxruntime) over a small corpus where one codec passes and one fails."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import DEMO_PROMOTE_EPOCHS, shipped_model_dir
from trainer.ingest import corpus as corpus_module
from trainer.ingest.columns import ParsedChunk
from trainer.ingest.corpus import CodecData, Corpus
from trainer.ingest.demo_corpus import DEMO_CORPUS_PATH
from trainer.ingest.parsing import InputFile
from trainer.run.cli import main as trainer_main

CODECS = ("libx265", "h264_amf")  # at DEMO_PROMOTE_EPOCHS libx265 passes and h264_amf fails


def _two_files(tmp_path: Path) -> list[Path]:
    """The demo's generated rows of both codecs, every other row in each of two files (both codecs in both)."""
    rows = [json.loads(line) for line in DEMO_CORPUS_PATH.read_text().splitlines() if '"synthetic"' in line]
    keep = [{k: v for k, v in r.items() if k != "synthetic"} for r in rows if r["encoder"] in CODECS]
    paths = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for index, path in enumerate(paths):
        path.write_text("".join(json.dumps(r) + "\n" for r in keep[index::2]))
    return paths


def _counted_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str,
                   epochs: str = DEMO_PROMOTE_EPOCHS) -> tuple[dict, Counter, Counter]:
    """Run a batch --advise --yes; (report, reads per corpus file, tables built per codec)."""
    reads: Counter[str] = Counter()
    tables: Counter[str] = Counter()
    read, for_codec = corpus_module.read_corpus_file, Corpus.for_codec

    def counted_read(path: Path, workers: int = 1) -> tuple[ParsedChunk, InputFile]:
        reads[Path(path).name] += 1
        return read(path, workers)

    def counted_table(self: Corpus, codec: str, probe_quality: float | None = None) -> CodecData:
        tables[codec] += 1
        return for_codec(self, codec, probe_quality)

    monkeypatch.setattr(corpus_module, "read_corpus_file", counted_read)
    monkeypatch.setattr(Corpus, "for_codec", counted_table)
    files = _two_files(tmp_path)
    model_dir = shipped_model_dir(tmp_path / "model", CODECS)
    code = trainer_main([*[a for f in files for a in ("--corpus", str(f))], "--epochs", epochs,
                         "--out-dir", str(tmp_path / "runs"), "--model-dir", str(model_dir), "--workers", "2",
                         "--advise", "--yes", *[a for c in CODECS for a in ("--codec", c)], *extra])
    assert code == 1  # h264_amf fails the gate
    return json.loads((tmp_path / "runs" / "report.json").read_text()), reads, tables


@pytest.mark.slow
def test_a_passing_and_a_failing_codec_with_advise_and_yes_read_each_corpus_file_once(tmp_path, monkeypatch):
    report, reads, tables = _counted_batch(tmp_path, monkeypatch)
    status = {c["codec"]: c for c in report["codecs"]}
    assert status["libx265"]["status"] == "pass" and status["h264_amf"]["status"] == "fail"
    assert status["h264_amf"]["advice"] and not status["h264_amf"]["advice"].get("error")  # the advisor ran
    assert ("libx265", "replace-model") in {(c["codec"], c["action"]) for c in report["promotion"]["applied"]}
    assert reads == {"a.jsonl": 1, "b.jsonl": 1}
    assert tables == {"libx265": 1, "h264_amf": 1}  # each codec's table built once, for training; reused after


@pytest.mark.slow
def test_the_reference_profile_reads_the_corpus_once_per_codec_it_trains_and_never_after(tmp_path, monkeypatch):
    """The reference profile re-reads every file for each codec, as the old trainer did: that is training's
    read. The planner and the advisor still read nothing."""
    report, reads, _tables = _counted_batch(tmp_path, monkeypatch, "--profile", "reference", epochs="4")
    assert {c["codec"]: c["status"] for c in report["codecs"]}["h264_amf"] == "fail"  # advised
    assert reads == {"a.jsonl": 1 + len(CODECS), "b.jsonl": 1 + len(CODECS)}  # the run's ingest, then one per codec
