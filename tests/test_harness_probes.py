"""--harness-probes FILE: held-out picks judged again with the harness's own probe of each clip.

The probe file is read strictly (a bad line is exit 2 naming it), never trains anything (the same
folds give the same PLCC with and without it), and its numbers reach the log, the report, the
JUnit XML and the Markdown summary. The bundled six clips of the real sweep come with the
harness's real ultrafast probe (tests/data/README.md).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.harness_checks import DATA
from trainer.core.features import FEATURE_NAMES
from trainer.ingest.harness_probes import PROBE_COLUMNS, HarnessProbeError, load_harness_probes, with_probe
from trainer.run.cli import build_parser, main
from trainer.run.config import ConfigError, resolve_config

SUBSET = DATA / "crfsweep_libx264_subset.jsonl"
PROBES = DATA / "crfsweep_probe_libx264.jsonl"
GOOD = {"src": "clip", "encoder": "libx264", "probe_crf": 28, "probe_bitrate_kbps": 900.0,
        "probe_i_frame_avg_bytes": 40000.0, "probe_p_frame_avg_bytes": 3000.0, "probe_b_frame_avg_bytes": None}


def _write(tmp_path, *rows: object, name: str = "probes.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(("bad", "message"), [
    ("{not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ({**GOOD, "src": ""}, "src must be a non-empty string"),
    ({**GOOD, "encoder": "libx266"}, "unknown codec 'libx266'"),
    ({**GOOD, "probe_bitrate_kbps": None}, "probe_bitrate_kbps must be a non-negative number, got None"),
    ({**GOOD, "probe_bitrate_kbps": -0.5}, "probe_bitrate_kbps must be a non-negative number"),
    ({**GOOD, "probe_p_frame_avg_bytes": -1}, "probe_p_frame_avg_bytes must be a non-negative number"),
    ({**GOOD, "probe_i_frame_avg_bytes": "9000"}, "probe_i_frame_avg_bytes must be a non-negative number"),
    ({**GOOD, "probe_crf": True}, "probe_crf must be a number"),
    ({**GOOD, "probe_preset": ["fast"]}, "probe_preset must be a string"),
    (GOOD, "a second probe of 'clip' for libx264"),
])
def test_a_bad_line_is_an_error_naming_file_and_line(bad, message, tmp_path, capsys):
    path = _write(tmp_path, GOOD, bad)
    with pytest.raises(HarnessProbeError, match=message) as raised:
        load_harness_probes([path])
    assert f"{path}:2: " in str(raised.value)
    assert main(["--harness-probes", str(path), "--corpus", str(SUBSET), "--out-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--harness-probes: {path}:2: " in err and message in err
    assert not (tmp_path / "out").exists()  # refused before any training or output


def test_an_empty_file_or_one_probe_in_two_files_is_refused(tmp_path):
    with pytest.raises(HarnessProbeError, match="no probe lines"):
        load_harness_probes([_write(tmp_path, "", name="empty.jsonl")])
    with pytest.raises(HarnessProbeError, match=r"a second probe of 'clip' for libx264 \(first at .*a.jsonl:1\)"):
        load_harness_probes([_write(tmp_path, GOOD, name="a.jsonl"), _write(tmp_path, GOOD, name="b.jsonl")])


def test_a_clips_rows_take_its_probe_and_one_at_another_quality_or_preset_is_not_used(tmp_path):
    lines = [GOOD, {**GOOD, "src": "elsewhere", "probe_crf": 30}, {**GOOD, "src": "unnamed", "probe_crf": None},
             {**GOOD, "src": "slower", "probe_preset": "medium"}, {**GOOD, "src": "loud", "probe_preset": "UltraFast"}]
    probes = load_harness_probes([_write(tmp_path, *lines)])
    sources = np.array(["clip", "clip", "elsewhere", "unnamed", "absent", "slower", "loud"])
    features = np.arange(7 * len(FEATURE_NAMES), dtype=np.float32).reshape(7, -1)
    harness = probes.for_codec("libx264", sources, 28.0, "ultrafast")
    assert harness.rows.tolist() == [True, True, False, True, False, False, True]
    assert harness.probe[0].tolist() == [900.0, 40000.0, 3000.0, 0.0]  # B null: no B frames, fed as 0
    fed = with_probe(features[harness.rows], harness.probe[harness.rows])
    probe_columns = [FEATURE_NAMES.index(name) for name in PROBE_COLUMNS]
    assert (fed[:, probe_columns] == [900.0, 40000.0, 3000.0, 0.0]).all()
    others = [i for i in range(len(FEATURE_NAMES)) if i not in probe_columns]
    assert np.array_equal(fed[:, others], features[harness.rows][:, others])
    assert harness.mismatched == ("elsewhere", "slower") and harness.n_clips == 6
    line = harness.describe(sources)
    assert "3 of 6 clips have a harness probe at quality 28, preset ultrafast" in line
    assert "2 probed at another quality or preset, not used: elsewhere, slower" in line
    assert not probes.for_codec("libx265", sources, 28.0, "ultrafast").rows.any()  # probes are per encoder


def test_env_names_the_files_when_no_flag_does():
    parser = build_parser("python -m trainer")
    config = resolve_config(parser.parse_args([]), env={"HARNESS_PROBES": str(PROBES)})
    assert config.harness_probes is not None and config.as_dict()["harness_probes"] == [str(PROBES)]
    assert resolve_config(parser.parse_args([]), env={}).harness_probes is None
    with pytest.raises(ConfigError, match="environment variable HARNESS_PROBES: .*missing.jsonl: cannot read"):
        resolve_config(parser.parse_args([]), env={"HARNESS_PROBES": str(DATA / "missing.jsonl")})


def _run(tmp_path, name: str, *extra: str, corpus=SUBSET) -> dict:
    out = tmp_path / name
    argv = ["--corpus", str(corpus), "--codec", "libx264", "--epochs", "20", "--workers", "1", "--out-dir", str(out),
            "--model-dir", str(tmp_path / "models"), "--junit-xml", str(out / "junit.xml"),
            "--summary-md", str(out / "summary.md"), *extra]
    assert main(argv) == 1  # six clips: the gate fails honestly
    return json.loads((out / "report.json").read_text())


@pytest.mark.slow
def test_a_batch_judges_picks_again_with_the_probe_and_trains_exactly_as_without_it(tmp_path, one_torch_thread):
    plain = _run(tmp_path, "plain")
    probed = _run(tmp_path, "probed", "--harness-probes", str(PROBES))
    before, after = plain["codecs"][0], probed["codecs"][0]
    assert [f["plcc"] for f in after["folds"]] == [f["plcc"] for f in before["folds"]]  # never trained on
    assert after["crf_pick"] == before["crf_pick"]
    assert before["crf_pick_harness_probe"] is None
    as_probed = after["crf_pick_harness_probe"]
    assert as_probed["n"] == after["crf_pick"]["n"]  # every clip of the subset has its probe
    per_fold = [f["crf_pick_harness_probe"] for f in after["folds"]]
    assert sum(f["n"] for f in per_fold if f) == as_probed["n"]
    assert probed["run_provenance"]["args"]["harness_probes"] == [str(PROBES)]
    log = next((tmp_path / "probed").glob("train_*.log")).read_text()
    assert "6 of 6 clips have a harness probe at quality 28, preset ultrafast" in log
    assert "crf pick with the harness's own probe: off by" in log
    assert "crf pick with the harness's own probe" in (tmp_path / "probed" / "junit.xml").read_text()
    summary = (tmp_path / "probed" / "summary.md").read_text()
    assert "With the harness's own probe of each clip as input" in summary
    assert "harness's own probe" not in (tmp_path / "plain" / "summary.md").read_text()
    # the published harness's 0 kbps: the fold models answer through the graph's recovery, so the picks stay put
    at_zero = after["crf_pick_harness_probe_0kbps"]
    assert at_zero["n"] == as_probed["n"]
    assert abs(at_zero["mean_abs_quality_error"] - as_probed["mean_abs_quality_error"]) <= 0.1
    curve = after["harness_curve"]
    assert curve["crf_pick"]["n"] == after["crf_pick"]["n"] and curve["coefficients"]["crf_ref"] == 23.0
    assert curve["crf_pick_harness_probe_0kbps"]["n"] == as_probed["n"]
    assert set(curve["floor"]) >= {"warnings", "model"}
    assert set(curve["floor"]["challenger"]) == {"as_published", "parse_fixed"}
    assert before["harness_curve"]["crf_pick_harness_probe"] is None  # no probe file: only the corpus-input row
    assert "harness curve (no model): corpus probe inputs off" in log
    assert "| libx264 | harness curve, no model | 0 kbps |" in summary


def test_training_on_them_needs_the_file(tmp_path, capsys):
    assert main(["--train-on-harness-probes", "--corpus", str(SUBSET), "--out-dir", str(tmp_path / "out")]) == 2
    assert "--train-on-harness-probes needs --harness-probes FILE" in capsys.readouterr().err
    parser = build_parser("python -m trainer")
    config = resolve_config(parser.parse_args([]), env={"HARNESS_PROBES": str(PROBES), "TRAIN_ON_HARNESS_PROBES": "1"})
    assert config.probe_measurements is config.harness_probes is not None
    assert resolve_config(parser.parse_args(["--harness-probes", str(PROBES)]), env={}).probe_measurements is None


@pytest.mark.slow
def test_training_on_them_is_training_on_the_probe_written_into_the_rows(tmp_path, one_torch_thread):
    """--train-on-harness-probes gives exactly what a corpus with each clip's probe as explicit columns gives."""
    probes = {json.loads(line)["src"]: json.loads(line) for line in PROBES.read_text().splitlines()}
    merged = tmp_path / "merged.jsonl"
    with merged.open("w") as out:
        for line in SUBSET.read_text().splitlines():
            row = json.loads(line)
            row.update({name: probes[row["src"]][name] or 0.0 for name in PROBE_COLUMNS})
            out.write(json.dumps(row) + "\n")
    trained = _run(tmp_path, "trained", "--harness-probes", str(PROBES), "--train-on-harness-probes")
    written = _run(tmp_path, "written", "--harness-probes", str(PROBES), corpus=merged)
    ours, theirs = trained["codecs"][0], written["codecs"][0]
    assert [f["plcc"] for f in ours["folds"]] == [f["plcc"] for f in theirs["folds"]]
    assert ours["crf_pick"] == theirs["crf_pick"] == ours["crf_pick_harness_probe"]  # trained and judged as fed
    n_rows = ours["n_rows_total"]
    assert trained["corpus"]["probe"]["explicit"] == n_rows and trained["corpus"]["probe"]["sizes_withheld"] == 0
    assert trained["run_provenance"]["args"]["train_on_harness_probes"] is True
    plain = _run(tmp_path, "plain")
    # the probe really is what it trained on: other inputs than the ladder-derived ones, so other networks
    # (compared by the network candidate's own scores: nested LOSO may ship the content-blind curve in both)
    def network_rmse(codec: dict) -> list[float]:
        return [f["model_choice"]["outer_rmse"]["shrink=6"] for f in codec["folds"]]

    assert network_rmse(plain["codecs"][0]) != network_rmse(ours)
