"""Promotion: ONNX contract checks, cards, plans, atomic writes, lock, backup and restore."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.conftest import DEMO_PROMOTE_EPOCHS, REPO_MODEL_DIR, shipped_model_dir
from trainer.core import atomic
from trainer.ingest.demo_corpus import DEMO_CORPUS_PATH
from trainer.ingest.synthetic import synthetic_codec_data
from trainer.learning.profiles import DEFAULT_PROFILE
from trainer.learning.tasks import FinalTask, run_final_task
from trainer.run.cli import main
from trainer.shipping.artifacts import card_path, model_path, sha256_file
from trainer.shipping.cards import status_line, with_status
from trainer.shipping.onnx_export import build_onnx, ort_predict, validate_onnx


@pytest.fixture(scope="module")
def trained():
    data = synthetic_codec_data("libx264", 6, 20, 0.5, 0)
    profile = DEFAULT_PROFILE.__class__(**{**DEFAULT_PROFILE.as_dict(), "epochs": 30})
    weights = run_final_task(FinalTask("libx264", data.features, data.target, profile, 3))
    return data, weights


def test_onnx_meets_the_runtime_contract(trained):
    data, weights = trained
    blob = build_onnx(weights, "libx264")
    assert validate_onnx(blob, weights, data.features) == []
    model = onnx.load_from_string(blob)
    assert model.opset_import[0].version == 18 and not any(t.data_location for t in model.graph.initializer)
    out = ort_predict(blob, data.features[:7])
    assert out.shape == (7, 1) and out.dtype == np.float32
    assert ((out >= 0) & (out <= 100)).all()
    assert build_onnx(weights, "libx264") == blob  # deterministic bytes


def test_op_outside_allowlist_is_reported(trained):
    data, weights = trained
    model = onnx.load_from_string(build_onnx(weights, "libx264"))
    for node in model.graph.node:
        if node.op_type == "Relu":
            node.op_type = "LeakyRelu"
    problems = validate_onnx(model.SerializeToString(), weights, data.features)
    assert any("LeakyRelu" in p and "allowlist" in p for p in problems)


def test_parity_failure_is_reported(trained):
    data, weights = trained
    tampered = type(weights)(**{**vars(weights), "b3": weights.b3 + 0.5})
    problems = validate_onnx(build_onnx(tampered, "libx264"), weights, data.features)
    assert problems and "differs from torch" in problems[0]


# On another CPU torch rounds differently (AVX-512 / AVX2 / scalar kernels) and a regenerated stub
# differs in its bytes; its predictions stay close. Measured here (AVX2) against torch's scalar
# kernels (ATEN_CPU_CAPABILITY=default): at most 0.55 VMAF over the sweep. docs/promotion.md "The shipped stubs".
STUB_PREDICTION_TOLERANCE_VMAF = 2.0


@pytest.mark.slow
def test_stub_regeneration_on_one_machine_is_byte_identical(tmp_path, capsys, one_torch_thread):
    from trainer.shipping.stubs import build_stub

    onnx_bytes, card = build_stub("av1_qsv")
    # The same stub through the CLI, in the same run: the same bytes again.
    assert main(["--write-stubs", "--codec", "av1_qsv", "--model-dir", str(tmp_path),
                 "--out-dir", str(tmp_path / "r")]) == 0
    assert (tmp_path / "predictor_av1_qsv.onnx").read_bytes() == onnx_bytes
    assert (tmp_path / "predictor_av1_qsv_card.md").read_text() == card
    assert "wrote" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("codec", ["libx264", "libsvtav1", "h264_nvenc", "hevc_amf", "av1_qsv"])
def test_committed_stubs_agree_with_a_fresh_regeneration_on_predictions_and_say_stub(codec, one_torch_thread):
    from trainer.shipping.stubs import build_stub, stub_training_data

    onnx_bytes, card = build_stub(codec)
    committed = model_path(REPO_MODEL_DIR, codec).read_bytes()
    inputs = stub_training_data(codec).features  # a fixed grid: CRF x resolution x fps x bitrate
    diff = np.abs(ort_predict(committed, inputs) - ort_predict(onnx_bytes, inputs)).max()
    assert diff <= STUB_PREDICTION_TOLERANCE_VMAF, f"{codec}: max |committed - regenerated| = {diff:.3f} VMAF"
    committed_card = card_path(REPO_MODEL_DIR, codec).read_text()
    for text in (card, committed_card):
        assert "synthetic stub, not for production decisions" in text
        assert "corpus kind: `synthetic-stub-N=1008`" in text
    assert f"- sha256: `{sha256_file(model_path(REPO_MODEL_DIR, codec))}`" in committed_card


def test_every_codec_ships_a_stub_model_and_card():
    from trainer.core.codecs import SUPPORTED_CODECS

    for codec in SUPPORTED_CODECS:
        assert model_path(REPO_MODEL_DIR, codec).stat().st_size > 1000
        assert "## Status:" in card_path(REPO_MODEL_DIR, codec).read_text()


def test_status_block_patch_is_idempotent_and_single():
    card = card_path(REPO_MODEL_DIR, "libx264").read_text()
    block = "<!-- status:begin -->\n## Status: Proposed (gate-failed: x)\n<!-- status:end -->\n"
    once = with_status(card, block)
    assert with_status(once, block) == once
    assert once.count("## Status:") == 1 and status_line(once) == "## Status: Proposed (gate-failed: x)"
    assert once.split("<!-- status:begin -->")[0] == card.split("<!-- status:begin -->")[0]


def test_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "predictor_libx264.onnx"
    target.write_bytes(b"old model")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic.atomic_write_bytes(target, b"new model, half written")
    assert target.read_bytes() == b"old model"
    assert os.listdir(tmp_path) == ["predictor_libx264.onnx"]


# --- whole runs -------------------------------------------------------------------------------

def _real_style_corpus(path: Path, codecs: set[str]) -> Path:
    """Demo rows of some codecs without the generated flag: stands in for a real ingest."""
    rows = [json.loads(line) for line in DEMO_CORPUS_PATH.read_text().splitlines() if '"synthetic"' in line]
    keep = [{k: v for k, v in r.items() if k != "synthetic"} for r in rows if r["encoder"] in codecs]
    path.write_text("\n".join(json.dumps(r) for r in keep) + "\n")
    return path


@pytest.fixture
def workspace(tmp_path):
    model_dir = shipped_model_dir(tmp_path / "model", ("libx265", "h264_amf"))
    corpus = _real_style_corpus(tmp_path / "real.jsonl", {"libx265", "h264_amf"})
    return tmp_path, model_dir, corpus


def _hashes(model_dir: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(model_dir.glob("predictor_*"))}


def _batch(tmp_path, model_dir, corpus, *extra):
    args = ["--corpus", str(corpus), "--codec", "libx265", "--codec", "h264_amf", "--model-dir", str(model_dir),
            "--out-dir", str(tmp_path / "runs"), "--epochs", DEMO_PROMOTE_EPOCHS, *extra]
    code = main(args)
    return code, json.loads((tmp_path / "runs" / "report.json").read_text())


@pytest.mark.slow
def test_without_yes_nothing_in_the_model_dir_changes_but_the_plan_is_reported(workspace):
    tmp_path, model_dir, corpus = workspace
    before = _hashes(model_dir)
    code, report = _batch(tmp_path, model_dir, corpus)
    assert code == 1 and _hashes(model_dir) == before
    planned = {(c["codec"], c["action"]) for c in report["promotion"]["planned"]}
    assert planned == {("libx265", "replace-model"), ("libx265", "rewrite-card"), ("libx265", "write-calibration"),
                       ("h264_amf", "patch-card-status"), ("h264_amf", "write-calibration")}
    assert report["promotion"]["applied"] == []


@pytest.mark.slow
def test_yes_promotes_only_the_pass_codec_and_restore_round_trips(workspace, capsys):
    tmp_path, model_dir, corpus = workspace
    before = _hashes(model_dir)
    code, report = _batch(tmp_path, model_dir, corpus, "--yes")
    after = _hashes(model_dir)
    assert code == 1
    assert after["predictor_libx265.onnx"] != before["predictor_libx265.onnx"]
    assert after["predictor_h264_amf.onnx"] == before["predictor_h264_amf.onnx"]  # failing: byte-identical
    assert status_line((model_dir / "predictor_libx265_card.md").read_text()).startswith("## Status: Production")
    amf_card = (model_dir / "predictor_h264_amf_card.md").read_text()
    assert status_line(amf_card).startswith("## Status: Proposed (gate-failed: ")
    assert "corpus kind: `real-N=720`" in (model_dir / "predictor_libx265_card.md").read_text()
    new_model = (model_dir / "predictor_libx265.onnx").read_bytes()
    data_rows = np.zeros((3, 14), dtype=np.float32)
    assert ort_predict(new_model, data_rows).shape == (3, 1)

    # A second identical run has nothing left to change: cards patch idempotently.
    _code, again = _batch(tmp_path, model_dir, corpus, "--yes")
    assert again["promotion"]["planned"] == [] and _hashes(model_dir) == after

    stamp = report["promotion"]["backup_stamp"]
    assert main(["--restore", stamp, "--model-dir", str(model_dir), "--out-dir", str(tmp_path / "runs")]) == 0
    assert _hashes(model_dir) == before
    assert "restored" in capsys.readouterr().out


@pytest.mark.slow
def test_generated_rows_never_promote(tmp_path):
    model_dir = shipped_model_dir(tmp_path / "model", ("libx265",))
    before = _hashes(model_dir)
    code = main(["--corpus", str(DEMO_CORPUS_PATH), "--codec", "libx265", "--model-dir", str(model_dir),
                 "--out-dir", str(tmp_path / "runs"), "--epochs", DEMO_PROMOTE_EPOCHS, "--yes"])
    report = json.loads((tmp_path / "runs" / "report.json").read_text())
    assert code == 0 and report["codecs"][0]["status"] == "pass"
    assert "generated" in report["promotion"]["blocked"]["libx265"][0]
    assert _hashes(model_dir)["predictor_libx265.onnx"] == before["predictor_libx265.onnx"]


def test_a_second_applier_exits_2_naming_the_holder(workspace, capsys):
    tmp_path, model_dir, corpus = workspace
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from trainer.shipping.lock import model_dir_lock
            with model_dir_lock(Path({str(model_dir)!r}), purpose="test-holder"):
                print("held", flush=True)
                sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        before = _hashes(model_dir)
        code = main(["--corpus", str(corpus), "--model-dir", str(model_dir), "--out-dir", str(tmp_path / "r"), "--yes"])
        err = capsys.readouterr().err
        assert code == 2 and f"pid {holder.pid}" in err and "test-holder" in err
        assert main(["--write-stubs", "--codec", "av1_qsv", "--model-dir", str(model_dir)]) == 2
        assert "test-holder" in capsys.readouterr().err
        assert _hashes(model_dir) == before
    finally:
        holder.communicate("")
    assert holder.returncode == 0


def test_restore_rejects_a_stamp_that_is_a_path(tmp_path, capsys):
    code = main(["--restore", "../../etc", "--model-dir", str(tmp_path / "m"), "--out-dir", str(tmp_path / "r")])
    assert code == 2 and "expected a UTC stamp" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ('[{"file": "predictor_libx264.onnx", "sha256": "0"}]', "backup file predictor_libx264.onnx cannot be read"),
        ('["predictor_libx264.onnx"]', "is not a list of file entries"),
        ('{"file": "predictor_libx264.onnx"}', "is not a list of file entries"),
    ],
)
def test_restore_from_a_damaged_backup_says_why_and_changes_nothing(tmp_path, capsys, manifest, message):
    backup = tmp_path / "r" / "backup" / "20261124T000000Z"
    backup.mkdir(parents=True)
    (backup / "manifest.json").write_text(manifest)
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "predictor_libx264.onnx").write_bytes(b"current")
    code = main(["--restore", backup.name, "--model-dir", str(model_dir), "--out-dir", str(tmp_path / "r")])
    assert code == 2 and message in capsys.readouterr().err
    assert (model_dir / "predictor_libx264.onnx").read_bytes() == b"current"


@pytest.mark.slow
def test_allowlist_violation_blocks_promotion_in_the_plan(workspace, monkeypatch):
    from trainer.shipping import plan as promote

    real_build = promote.build_onnx

    def build_with_forbidden_op(weights, codec):
        model = onnx.load_from_string(real_build(weights, codec))
        next(node for node in model.graph.node if node.op_type == "Relu").op_type = "LeakyRelu"
        return model.SerializeToString()

    monkeypatch.setattr(promote, "build_onnx", build_with_forbidden_op)
    tmp_path, model_dir, corpus = workspace
    before = _hashes(model_dir)
    _code, report = _batch(tmp_path, model_dir, corpus, "--yes")
    assert any("allowlist" in reason for reason in report["promotion"]["blocked"]["libx265"])
    after = _hashes(model_dir)
    assert after["predictor_libx265.onnx"] == before["predictor_libx265.onnx"]
    card = (model_dir / "predictor_libx265_card.md").read_text()
    assert "promotion blocked: ops outside the allowlist: LeakyRelu" in card


@pytest.mark.slow
def test_a_lock_taken_during_training_still_writes_the_report_and_exits_2(workspace, monkeypatch, capsys):
    from trainer.run import promotion
    from trainer.shipping.lock import ModelDirLocked

    def raced(*_args, **_kwargs):
        raise ModelDirLocked("model directory is locked by pid 4242 on ci since now (apply: test)")

    monkeypatch.setattr(promotion, "apply_plan", raced)
    tmp_path, model_dir, corpus = workspace
    before = _hashes(model_dir)
    code, report = _batch(tmp_path, model_dir, corpus, "--yes")
    assert code == 2 and _hashes(model_dir) == before
    assert "pid 4242" in report["promotion"]["error"] and report["promotion"]["applied"] == []
    assert report["codecs"][0]["status"] == "pass"
    assert "pid 4242" in capsys.readouterr().err


@pytest.mark.slow
def test_a_signal_while_the_plan_is_built_is_honoured_before_anything_is_written(workspace, monkeypatch):
    """A real SIGTERM delivered to this process from inside plan_promotion: the apply never starts."""
    import signal

    from trainer.run import promotion

    tmp_path, model_dir, corpus = workspace
    def contents():  # .lock: the empty lock file the --yes preflight takes before training
        return {p.name: p.read_bytes() for p in model_dir.iterdir() if p.name != ".lock"}

    before = contents()
    real_plan = promotion.plan_promotion

    def plan_then_signal(*args, **kwargs):
        plan = real_plan(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return plan

    monkeypatch.setattr(promotion, "plan_promotion", plan_then_signal)
    code, report = _batch(tmp_path, model_dir, corpus, "--yes")
    assert code == 128 + signal.SIGTERM
    assert contents() == before  # not one byte changed, no file added
    assert not (tmp_path / "runs" / "backup").exists()
    assert report["summary"]["interrupted_by"] == "SIGTERM"
    assert report["promotion"]["skipped"] == "interrupted by SIGTERM before the plan was applied; nothing was written"
    assert report["promotion"]["planned"] and report["promotion"]["applied"] == []


@pytest.mark.slow
def test_a_signal_during_apply_lets_it_complete_and_every_file_matches_the_plan(workspace, monkeypatch):
    """A real SIGTERM delivered to this process while the plan is being written."""
    import signal

    from trainer.shipping import apply as promote

    tmp_path, model_dir, corpus = workspace
    real_write = promote.atomic_write_bytes
    signalled: list[Path] = []

    def write_with_a_signal_in_flight(path, data):
        if not signalled and Path(path).parent == model_dir:
            signalled.append(Path(path))
            os.kill(os.getpid(), signal.SIGTERM)
        real_write(path, data)

    monkeypatch.setattr(promote, "atomic_write_bytes", write_with_a_signal_in_flight)
    code, report = _batch(tmp_path, model_dir, corpus, "--yes")
    assert signalled and code == 128 + signal.SIGTERM
    assert report["summary"]["interrupted_by"] == "SIGTERM"
    assert report["promotion"]["interrupted"] == "interrupted by SIGTERM while applying: the apply completed first"
    planned = report["promotion"]["planned"]
    assert len(planned) == 5 and report["promotion"]["applied"] == planned  # with both codecs' sidecars
    for change in planned:
        assert sha256_file(Path(change["path"])) == change["new_sha256"]
    assert not [p for p in model_dir.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_a_write_failure_mid_apply_rolls_every_file_back(workspace, monkeypatch):
    import errno

    from trainer.shipping import apply as promote

    tmp_path, model_dir, corpus = workspace
    before = _hashes(model_dir)
    real_write = promote.atomic_write_bytes
    model_writes: list[Path] = []

    def disk_full_on_the_second_model_file(path, data):
        if Path(path).parent == model_dir:
            model_writes.append(Path(path))
            if len(model_writes) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(path, data)

    monkeypatch.setattr(promote, "atomic_write_bytes", disk_full_on_the_second_model_file)
    code, report = _batch(tmp_path, model_dir, corpus, "--yes")
    assert code == 2
    assert "rolled back" in report["promotion"]["error"] and "No space left on device" in report["promotion"]["error"]
    assert _hashes(model_dir) == before  # the first file written was put back from the backup
    assert not [p for p in model_dir.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_one_corpus_promoted_from_two_directories_gives_byte_identical_models_and_cards(tmp_path):
    """Cards are committed in a pull request: no operator's home directory may end up in them."""
    first = tmp_path / "alice" / "ingest" / "2026-11" / "corpus.jsonl"
    first.parent.mkdir(parents=True)
    _real_style_corpus(first, {"libx265", "h264_amf"})
    second = tmp_path / "bob" / "corpus.jsonl"
    second.parent.mkdir(parents=True)
    shutil.copy(first, second)
    model_dirs = []
    for corpus in (first, second):
        model_dir = shipped_model_dir(corpus.parent / "model", ("libx265", "h264_amf"))
        code = main(["--corpus", str(corpus), "--codec", "libx265", "--codec", "h264_amf", "--model-dir",
                     str(model_dir), "--out-dir", str(corpus.parent / "runs"), "--epochs", DEMO_PROMOTE_EPOCHS,
                     "--yes"])
        assert code == 1  # h264_amf fails; libx265 is promoted
        model_dirs.append(model_dir)
    files = sorted(p.name for p in model_dirs[0].glob("predictor_*"))
    # ONNX, card and calibration sidecar of both codecs (the kept stub's sidecar too)
    assert files == sorted(p.name for p in model_dirs[1].glob("predictor_*")) and len(files) == 6
    for name in files:
        assert (model_dirs[0] / name).read_bytes() == (model_dirs[1] / name).read_bytes(), name
    production = (model_dirs[0] / "predictor_libx265_card.md").read_text()
    assert status_line(production).startswith("## Status: Production")
    assert str(tmp_path) not in production and "alice" not in production
    assert f"`corpus.jsonl` ({first.stat().st_size} bytes, 720 rows, sha256 `{sha256_file(first)}`)" in production
    assert "- report: `report.json`" in production


@pytest.mark.slow
def test_a_rollback_that_fails_too_is_one_clear_error_naming_the_backup(workspace, monkeypatch):
    import errno

    from trainer.shipping import apply as promote

    tmp_path, model_dir, corpus = workspace
    real_write = promote.atomic_write_bytes
    model_writes: list[Path] = []

    def disk_full_from_the_second_model_write_on(path, data):
        if Path(path).parent == model_dir:
            model_writes.append(Path(path))
            if len(model_writes) >= 2:  # the write fails, and so does putting the first file back
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(path, data)

    monkeypatch.setattr(promote, "atomic_write_bytes", disk_full_from_the_second_model_write_on)
    code, report = _batch(tmp_path, model_dir, corpus, "--yes")
    assert code == 2
    error = report["promotion"]["error"]
    assert "failed too" in error and "--restore " in error
    stamp = error.rsplit("--restore ", 1)[1]
    assert (tmp_path / "runs" / "backup" / stamp / "manifest.json").exists()
