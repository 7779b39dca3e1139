"""End-to-end batch runs: real corpus files, real process pool, real torch training."""

import json

import pytest

from trainer.run.cli import main

FAST = ["--epochs", "25", "--workers", "2"]

REPORT_KEYS = {
    "schema_version", "generated_at_utc", "synthetic_smoke", "gate", "harness", "profile", "corpus", "codecs",
    "summary", "run_provenance", "promotion",
}
CODEC_KEYS = {
    "codec", "status", "mean_plcc", "plcc_spread", "mean_srocc", "mean_rmse", "n_rows_total",
    "n_distinct_sources", "failure_reasons", "corpus_provenance", "folds", "baseline", "training_seconds", "crf_pick",
    "crf_pick_harness_probe", "crf_pick_harness_probe_0kbps", "harness_curve", "incumbent", "model_choice", "advice",
    "calibration",
}
FOLD_KEYS = {"fold_index", "held_out_sources", "plcc", "srocc", "rmse", "n_train", "n_val", "crf_pick",
             "crf_pick_harness_probe", "crf_pick_harness_probe_0kbps", "model_choice"}


def run(tmp_path, *argv, name="out"):
    out = tmp_path / name
    code = main(["--out-dir", str(out), "--model-dir", str(tmp_path / "model"), *FAST, *argv])
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else None
    return code, report, out


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    from tests.conftest import write_corpus

    tmp = tmp_path_factory.mktemp("batch")
    root = tmp / "roots" / "netflix"
    write_corpus(
        root / "deep" / "a.jsonl",
        {"libx264": (6, 12, 0.5), "h264_amf": (6, 12, 8.0), "libvvenc": (3, 10, 0.5)},
        extra=b'{"broken\n{"src": "x", "encoder": "libx266", "vmaf_score": 50}\n',
    )
    args = ["--corpus-root", str(root.parent), "--corpus-root", str(tmp / "absent"),
            "--codec", "libx264", "--codec", "h264_amf", "--codec", "libvvenc", "--codec", "av1_qsv"]
    first = run(tmp, *args, name="first")
    second = run(tmp, *args, name="second")
    return first, second


@pytest.mark.slow
def test_report_schema_is_pinned(batch_run):
    (code, report, out), _ = batch_run
    assert code == 1
    assert set(report) == REPORT_KEYS
    assert set(report["gate"]) == {"mean_plcc_threshold", "plcc_spread_max", "per_fold_min", "loso_fold_count", "adr"}
    assert set(report["summary"]) == {"n_pass", "n_fail", "n_insufficient", "n_missing_rows", "n_error",
                                      "interrupted", "interrupted_by", "error", "recovered_promotion", "in_progress"}
    assert report["summary"]["in_progress"] is False  # the final report; those written at each verdict say True
    assert report["summary"]["interrupted"] is False and report["summary"]["interrupted_by"] is None
    assert report["summary"]["error"] is None
    assert {"discovered_files", "roots", "rows_accepted", "rejected", "rejected_examples", "unknown_codecs"} <= set(
        report["corpus"]
    )
    assert {"schema", "entrypoint", "argv", "args", "inputs", "outputs"} <= set(report["run_provenance"])
    for codec in report["codecs"]:
        assert set(codec) == CODEC_KEYS
        for fold in codec["folds"]:
            assert set(fold) == FOLD_KEYS
    assert "NaN" not in (out / "report.json").read_text()


@pytest.mark.slow
def test_statuses_reasons_and_corpus_accounting(batch_run):
    (_code, report, out), _ = batch_run
    by_codec = {c["codec"]: c for c in report["codecs"]}
    assert [c["codec"] for c in report["codecs"]] == ["libx264", "libvvenc", "h264_amf", "av1_qsv"]
    assert by_codec["libvvenc"]["status"] == "insufficient-sources" and by_codec["libvvenc"]["folds"] == []
    assert by_codec["av1_qsv"]["status"] == "missing-rows"
    noisy = by_codec["h264_amf"]
    assert noisy["status"] == "fail" and any("ADR-0303" in r for r in noisy["failure_reasons"])
    assert len(noisy["folds"]) == 5
    for fold in noisy["folds"]:
        assert fold["n_train"] + fold["n_val"] == 72 and fold["held_out_sources"]
    baseline = noisy["baseline"]
    assert baseline["kind"].startswith("ridge(alpha=1)")
    assert [f["fold_index"] for f in baseline["folds"]] == [0, 1, 2, 3, 4]
    assert 0 < baseline["mean_plcc"] <= 1 and baseline["mean_rmse"] > 0
    assert by_codec["libvvenc"]["baseline"] is None  # nothing trained, nothing to compare
    corpus = report["corpus"]
    assert corpus["discovered_files"] == 1 and corpus["missing_roots"] == [str(out.parent / "absent")]
    assert corpus["rejected"]["malformed-json"] == 1 and corpus["unknown_codecs"] == {"libx266": 1}
    assert report["summary"]["n_insufficient"] == 1 and report["summary"]["n_missing_rows"] == 1
    assert report["run_provenance"]["inputs"][0]["sha256"]
    logs = list(out.glob("train_*.log"))
    assert len(logs) == 1 and "h264_amf fold" in logs[0].read_text()


@pytest.mark.slow
def test_same_corpus_and_seed_give_the_same_numbers(batch_run):
    (_, first, _), (_, second, _) = batch_run

    def numbers(report):  # training_seconds is a wall-clock measurement, not a result
        return [{k: v for k, v in c.items() if k != "training_seconds"} for c in report["codecs"]]

    assert numbers(first) == numbers(second)
    assert all(c["training_seconds"] >= 0 for c in first["codecs"])


def test_unknown_codec_is_a_usage_error(tmp_path, capsys, small_corpus):
    code, report, _ = run(tmp_path, "--corpus", str(small_corpus), "--codec", "libx266")
    assert code == 2 and report is None
    assert "unknown codec 'libx266'" in capsys.readouterr().err


def test_unreadable_explicit_corpus_is_a_usage_error(tmp_path, capsys):
    code, _, _ = run(tmp_path, "--corpus", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "not a readable file" in capsys.readouterr().err


def test_no_corpus_exits_2_naming_what_to_populate(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CORPUS_ROOTS", f"{tmp_path}/r1 {tmp_path}/r2")
    code, _, _ = run(tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and f"{tmp_path}/r1" in err and f"{tmp_path}/r2" in err


def test_allow_empty_reports_every_codec_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("CORPUS_ROOTS", str(tmp_path / "none"))
    monkeypatch.setenv("ALLOW_EMPTY", "1")
    code, report, _ = run(tmp_path)
    assert code == 1 and len(report["codecs"]) == 14
    assert {c["status"] for c in report["codecs"]} == {"missing-rows"}


@pytest.mark.slow
def test_env_corpus_and_report_path_and_all_pass_exit_zero(tmp_path, monkeypatch):
    from trainer.ingest.demo_corpus import DEMO_CORPUS_PATH

    monkeypatch.setenv("CORPUS", str(DEMO_CORPUS_PATH))
    monkeypatch.setenv("REPORT_PATH", str(tmp_path / "elsewhere" / "r.json"))
    monkeypatch.setenv("SEED", "0")
    code = main(["--codec", "libx265", "--out-dir", str(tmp_path / "o")])
    report = json.loads((tmp_path / "elsewhere" / "r.json").read_text())
    assert report["codecs"][0]["status"] == "pass", report["codecs"][0]["failure_reasons"]
    assert report["run_provenance"]["inputs"][0]["path"] == str(DEMO_CORPUS_PATH)
    assert code == 0


@pytest.mark.slow
def test_synthetic_smoke_never_passes(tmp_path):
    code, report, _ = run(tmp_path, "--synthetic-smoke", "--codec", "hevc_amf")
    assert code == 1 and report["synthetic_smoke"] is True
    assert report["codecs"][0]["status"] in {"fail"}
    assert report["corpus"]["discovered_files"] == 0


def test_help_lists_batch_first_and_every_option_group_with_its_environment_variable():
    from console.cli import build_console_parser
    from trainer.run.cli import build_parser

    text = build_console_parser().format_help()
    groups = ["mode:", "common options (batch and console):", "batch only:", "console only:"]
    assert [text.index(g) for g in groups] == sorted(text.index(g) for g in groups)
    options = text[text.index("mode:"):]
    assert options.index("--batch ") < options.index("--corpus FILE")
    assert text.index("[--batch]") < text.index("[--corpus FILE]")  # the usage line leads with it too
    for option, env in (("--corpus FILE", "env CORPUS"), ("--corpus-root", "env CORPUS_ROOTS"),
                        ("--epochs", "env EPOCHS"), ("--seed", "env SEED"), ("--out-dir", "env OUT_DIR"),
                        ("--report-out", "env REPORT_PATH"), ("--model-dir", "env MODEL_DIR"),
                        ("--allow-empty", "ALLOW_EMPTY=1")):
        block = options[options.index(option):]
        assert env in " ".join(block[:300].split()), option
    for option in ("--yes", "--restore", "--write-stubs", "--synthetic-smoke", "--debounce", "--no-auto-train",
                   "--version", "--profile", "--workers", "--codec"):
        assert option in text
    headless = build_parser("python -m trainer").format_help()
    assert "console only:" not in headless and "batch only:" in headless and "--version" in headless
    for help_text in (text, headless):  # every exit code, the internal-error one included
        epilog = " ".join(help_text[help_text.index("exit codes:"):].split())
        assert all(f"{code} " in epilog for code in ("0", "1", "2", "70", "128+N")), epilog


@pytest.mark.parametrize("command", [["-m", "trainer"], ["-c", "from console.cli import main; main()"]])
def test_version_names_the_project_torch_and_onnxruntime(command):
    import subprocess
    import sys
    from importlib import metadata

    done = subprocess.run([sys.executable, *command, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].endswith(f" {metadata.version('vmaf-predictor-console')}")
    assert f"  torch {metadata.version('torch')}" in lines
    assert f"  onnxruntime {metadata.version('onnxruntime')}" in lines


def test_console_only_options_are_refused_with_batch(capsys):
    from console.cli import main as console_main

    assert console_main(["--batch", "--no-auto-train", "--allow-empty"]) == 2
    assert "only apply to the console" in capsys.readouterr().err
