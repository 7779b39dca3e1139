"""Promotion is atomic as a set: the journal lets the next run finish or undo a set a killed run left half-written."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_PROMOTE_EPOCHS, shipped_model_dir
from trainer.ingest.demo_corpus import DEMO_CORPUS_PATH
from trainer.run.cli import main
from trainer.shipping import apply
from trainer.shipping.apply import KILL_HOOK_ENV, replace_set
from trainer.shipping.artifacts import card_path, sha256_bytes, sha256_file
from trainer.shipping.journal import CREATED, JOURNAL_NAME, recover_model_dir
from trainer.shipping.lock import PromotionError
from trainer.shipping.restore import restore_backup

REPO = Path(__file__).resolve().parent.parent
ONNX, CARD = "predictor_libx264.onnx", "predictor_libx264_card.md"


def _files(model_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(model_dir.glob("predictor_*"))}


@pytest.fixture
def workspace(tmp_path):
    """Two shipped codecs in a model dir, and demo rows without the generated flag (libx265 passes)."""
    model_dir = shipped_model_dir(tmp_path / "model", ("libx265", "h264_amf"))
    rows = [json.loads(line) for line in DEMO_CORPUS_PATH.read_text().splitlines() if '"synthetic"' in line]
    keep = [{k: v for k, v in r.items() if k != "synthetic"} for r in rows if r["encoder"] in {"libx265", "h264_amf"}]
    corpus = tmp_path / "real.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in keep) + "\n")
    return tmp_path, model_dir, corpus


class _Killed(BaseException):
    """Stands in for SIGKILL in-process: nothing after the raise runs, no cleanup catches it."""


def _die_after_first_write(monkeypatch):
    real_write = apply.atomic_write_bytes
    calls = []

    def write_then_die(path, data):
        real_write(path, data)
        calls.append(path)
        raise _Killed()

    monkeypatch.setattr(apply, "atomic_write_bytes", write_then_die)


@pytest.mark.slow
def test_a_yes_run_killed_after_its_first_replacement_is_rolled_back_by_the_next_run(workspace, capsys):
    tmp_path, model_dir, corpus = workspace
    before = _files(model_dir)
    argv = ["--corpus", str(corpus), "--codec", "libx265", "--codec", "h264_amf", "--model-dir", str(model_dir),
            "--out-dir", str(tmp_path / "runs"), "--epochs", DEMO_PROMOTE_EPOCHS, "--yes"]
    killed = subprocess.run([sys.executable, "-m", "trainer", *argv], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, KILL_HOOK_ENV: "1"}, timeout=900)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    journal = json.loads((model_dir / JOURNAL_NAME).read_text())
    entries = {e["file"]: e for e in journal["files"]}
    # The promoted codec's model, card and new calibration sidecar; the kept stub's card patch and its sidecar.
    assert set(entries) == {"predictor_libx265.onnx", "predictor_libx265_card.md", "predictor_libx265_calibration.json",
                            "predictor_h264_amf_card.md", "predictor_h264_amf_calibration.json"}
    # The half-written set the kill left: exactly one file already has its new bytes.
    assert sum(sha256_file(model_dir / name) == e["new_sha256"] for name, e in entries.items()) == 1
    for name, entry in entries.items():
        if name.endswith("_calibration.json"):  # created by this set: the rollback removes it
            assert entry["backup"] == CREATED and entry["old_sha256"] is None and name not in before
            continue
        assert Path(entry["backup"]).read_bytes() == before[name] and entry["old_sha256"] == sha256_bytes(before[name])

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code = main(["--corpus", str(empty), "--codec", "libx265", "--model-dir", str(model_dir),
                 "--out-dir", str(tmp_path / "next")])
    report = json.loads((tmp_path / "next" / "report.json").read_text())
    recovered = report["summary"]["recovered_promotion"]
    assert code == 1 and recovered["action"] == "rolled-back" and recovered["purpose"] == "promotion"
    assert sorted(recovered["files"]) == sorted(entries)
    assert "interrupted promotion" in capsys.readouterr().err
    assert "rolled its 5 file(s) back" in next((tmp_path / "next").glob("train_*.log")).read_text()
    assert _files(model_dir) == before  # every ONNX + card pair byte for byte from the backup, no sidecar left
    assert not (model_dir / JOURNAL_NAME).exists()


def test_a_set_killed_after_its_last_replacement_is_rolled_forward(tmp_path, monkeypatch):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / ONNX).write_bytes(b"old model")
    monkeypatch.setattr(apply, "remove_journal", lambda _dir: None)  # dies before removing the journal
    replace_set(model_dir, {ONNX: b"new model", CARD: b"new card"}, tmp_path / "backup", "20261124T160512Z", "test")
    assert (model_dir / JOURNAL_NAME).exists()
    monkeypatch.undo()
    recovered = recover_model_dir(model_dir)
    assert recovered is not None and recovered["action"] == "rolled-forward"
    assert _files(model_dir) == {ONNX: b"new model", CARD: b"new card"}
    assert not (model_dir / JOURNAL_NAME).exists()
    assert recover_model_dir(model_dir) is None  # nothing left to do


def test_a_set_killed_half_way_rolls_back_and_removes_the_file_it_created(tmp_path, monkeypatch):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / CARD).write_bytes(b"old card")
    _die_after_first_write(monkeypatch)
    with pytest.raises(_Killed):
        replace_set(model_dir, {ONNX: b"new model", CARD: b"new card"}, tmp_path / "backup", "20261124T160512Z",
                    "test")
    assert _files(model_dir) == {ONNX: b"new model", CARD: b"old card"}  # the mix the journal exists for
    monkeypatch.undo()
    recovered = recover_model_dir(model_dir)
    assert recovered is not None and recovered["action"] == "rolled-back"
    assert _files(model_dir) == {CARD: b"old card"}
    assert not (model_dir / JOURNAL_NAME).exists()


def test_a_journal_whose_backup_is_gone_is_one_clear_error_and_stays(tmp_path, monkeypatch):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / ONNX).write_bytes(b"old model")
    _die_after_first_write(monkeypatch)
    with pytest.raises(_Killed):
        replace_set(model_dir, {CARD: b"new card", ONNX: b"new model"}, tmp_path / "backup", "20261124T160512Z",
                    "test")
    monkeypatch.undo()
    (tmp_path / "backup" / "20261124T160512Z" / ONNX).unlink()
    with pytest.raises(PromotionError, match="cannot be rolled back: backup .* is unreadable"):
        recover_model_dir(model_dir)
    assert (model_dir / JOURNAL_NAME).exists()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["--corpus", str(empty), "--model-dir", str(model_dir), "--out-dir", str(tmp_path / "r")]) == 2


def test_restore_removes_the_files_the_run_created(tmp_path, capsys):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / ONNX).write_bytes(b"old model")
    backup = replace_set(model_dir, {ONNX: b"new model", CARD: b"new card"}, tmp_path / "runs" / "backup",
                         "20261124T160512Z", "test")
    manifest = json.loads((backup / "manifest.json").read_text())
    assert {"file": CARD, "created": True} in manifest
    assert main(["--restore", backup.name, "--model-dir", str(model_dir), "--out-dir", str(tmp_path / "runs")]) == 0
    assert _files(model_dir) == {ONNX: b"old model"}
    out = capsys.readouterr().out
    assert f"removed {model_dir / CARD}" in out and f"restored {model_dir / ONNX}" in out
    # The restore backed up what it overwrote: restoring that puts the run's set back, card included.
    again = sorted(p.name for p in (tmp_path / "runs" / "backup").iterdir() if p.name != backup.name)
    assert len(again) == 1
    restore_backup(tmp_path / "runs" / "backup", again[0], model_dir, "20261124T170000Z")
    assert _files(model_dir) == {ONNX: b"new model", CARD: b"new card"}


def test_write_stubs_backs_up_what_it_overwrites_and_restore_undoes_it(tmp_path, capsys):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    edited = card_path(model_dir, "av1_qsv")
    edited.write_text("an operator's card\n")
    out_dir = tmp_path / "runs"
    assert main(["--write-stubs", "--codec", "av1_qsv", "--model-dir", str(model_dir), "--out-dir", str(out_dir)]) == 0
    assert edited.read_text() != "an operator's card\n" and not (model_dir / JOURNAL_NAME).exists()
    stamp = capsys.readouterr().out.rsplit("--restore ", 1)[1].strip()
    assert (out_dir / "backup" / stamp / edited.name).read_text() == "an operator's card\n"
    assert main(["--restore", stamp, "--model-dir", str(model_dir), "--out-dir", str(out_dir)]) == 0
    assert _files(model_dir) == {edited.name: b"an operator's card\n"}  # the stub ONNX it created is gone
