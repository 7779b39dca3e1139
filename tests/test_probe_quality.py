"""--probe-quality CODEC=Q: validated like every option, and carried to training, report, console and card."""

import json

import numpy as np
import pytest

from tests.test_probe_presets import CRFS, PROBE, _jsonl, _rows
from trainer.run.cli import build_parser, main
from trainer.run.config import ConfigError, resolve_config


def _config(*argv: str, env: dict[str, str] | None = None):
    return resolve_config(build_parser("python -m trainer").parse_args(list(argv)), env=env or {})


def test_flags_and_env_give_per_codec_overrides_and_a_flag_wins_for_its_codec():
    config = _config("--probe-quality", "libx264=26", "--probe-quality", "libsvtav1=30.5",
                     env={"PROBE_QUALITY": "libx264=30  h264_qsv=20"})
    assert config.probe_quality == {"libx264": 26, "libsvtav1": 30.5, "h264_qsv": 20}
    assert config.as_dict()["probe_quality"] == {"libx264": 26, "libsvtav1": 30.5, "h264_qsv": 20}
    assert _config().probe_quality == {} and _config(env={"PROBE_QUALITY": " "}).probe_quality == {}


@pytest.mark.parametrize(("spec", "message"), [
    ("libx266=26", "unknown codec 'libx266'"),
    ("libx264=abc", "'abc' is not a number"),
    ("libx264=nan", "'nan' is not a number"),
    ("libx264=52", "outside libx264's quality range 0..51"),
    ("libx265=14", "outside libx265's quality range 15..40"),
    ("libx264", "is not CODEC=Q"),
    ("=26", "is not CODEC=Q"),
])
def test_bad_overrides_are_one_line_usage_errors(spec, message, tmp_path, capsys):
    with pytest.raises(ConfigError, match=message):
        _config("--probe-quality", spec)
    with pytest.raises(ConfigError, match="environment variable PROBE_QUALITY: .*" + message):
        _config(env={"PROBE_QUALITY": f"libx264=26 {spec}"})
    assert main(["--probe-quality", spec, "--out-dir", str(tmp_path), "--synthetic-smoke"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "--probe-quality" in err


def test_one_codec_given_two_different_qualities_is_refused():
    with pytest.raises(ConfigError, match="libx264 given twice"):
        _config("--probe-quality", "libx264=26", "--probe-quality", "libx264=30")
    assert _config("--probe-quality", "libx264=26", "--probe-quality", "libx264=26.0").probe_quality == {
        "libx264": 26}


def test_help_lists_it_among_the_common_options_with_its_environment_variable():
    from console.cli import build_console_parser

    text = build_console_parser().format_help()
    common = text[text.index("common options (batch and console):"):text.index("batch only:")]
    assert "--probe-quality CODEC=Q" in common and "env PROBE_QUALITY" in " ".join(common.split())


def _ladder_corpus(tmp_path):
    path = tmp_path / "sweep.jsonl"
    rows = [r for i in range(6) for r in _rows(f"clip{i}", "medium", 500.0 * (i + 1))]
    rows += _rows("clip0", "ultrafast", 1500.0)
    path.write_bytes(_jsonl(rows))
    return path


@pytest.mark.slow
def test_a_batch_trains_for_the_override_and_the_report_says_so(tmp_path):
    corpus = _ladder_corpus(tmp_path)
    out = tmp_path / "out"
    code = main(["--corpus", str(corpus), "--codec", "libx264", "--probe-quality", "libx264=24", "--out-dir",
                 str(out), "--model-dir", str(tmp_path / "model"), "--epochs", "3", "--workers", "1",
                 "--junit-xml", str(out / "junit.xml"), "--summary-md", str(out / "summary.md")])
    report = json.loads((out / "report.json").read_text())
    assert code == 1  # six sources, three epochs: an honest fail, and a full report
    harness = report["harness"]
    assert harness["libx264"]["probe_quality"] == 24 and harness["libx264"]["probe_quality_overridden"] is True
    assert harness["libx264"]["default_probe_quality"] == 28 and harness["libx264"]["probe_preset"] == "ultrafast"
    assert harness["libx265"]["probe_quality"] == 28 and harness["libx265"]["probe_quality_overridden"] is False
    assert report["run_provenance"]["args"]["probe_quality"] == {"libx264": 24}
    assert report["corpus"]["probe"] == {"from_ladder": 25, "from_probe_preset": 10, "explicit": 0, "own_encode": 0,
                                         "sizes_withheld": 0, "sizes_unverified": 0}
    log = next(out.glob("train_*.log")).read_text()
    assert "probe quality libx264=24 (--probe-quality; harness default 28)" in log
    pick = report["codecs"][0]["crf_pick"]
    assert pick["n"] > 0  # every held-out ladder spans the targets: the harness-style picks are scored
    probe = "quality 24 (overridden; harness default 28), preset ultrafast"
    assert f"probe: {probe}\ncrf pick: off by {pick['mean_abs_quality_error']:.2f} steps" in (
        out / "junit.xml").read_text()
    assert f"| libx264 | {probe} | {pick['n']} | {pick['mean_abs_quality_error']:.2f} |" in (
        out / "summary.md").read_text()


def test_the_consoles_session_trains_and_reports_for_the_override(tmp_path):
    from console.session import ConsoleSession

    corpus = _ladder_corpus(tmp_path)
    argv = ["--corpus", str(corpus), "--probe-quality", "libx264=24", "--out-dir", str(tmp_path / "runs"),
            "--model-dir", str(tmp_path / "model"), "--workers", "1"]
    config = resolve_config(build_parser("predictor-console").parse_args(argv), env={}, argv=argv)
    posted: list[object] = []
    session = ConsoleSession(config, posted.append)
    try:
        session.scan()
        data = session.snapshot("libx264")
        assert data.probe_quality == 24
        at_24 = 1500.0 * np.exp(0.11 * 4)  # clip0's ultrafast ladder at CRF 24, for both of its ladders
        clip0 = data.sources == "clip0"
        assert np.allclose(data.features[clip0, PROBE], at_24, rtol=1e-5) and clip0.sum() == 2 * len(CRFS)
        session.write_report({})
        report = json.loads(config.report_path.read_text())
        assert report["harness"]["libx264"]["probe_quality"] == 24
        assert report["corpus"]["probe"]["from_probe_preset"] == 10
    finally:
        session.stop()
