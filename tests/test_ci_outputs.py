"""CI and review outputs: JUnit XML, the Markdown summary, GitHub's step summary, and --review."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from console.cli import main as console_main
from console.review_app import ReviewConsole
from trainer.core.codecs import PROBE_PRESET, PROBE_QUALITY
from trainer.outputs.report_reader import read_report
from trainer.run.cli import main as trainer_main


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    from tests.conftest import write_corpus

    tmp = tmp_path_factory.mktemp("ci")
    corpus = write_corpus(tmp / "corpus.jsonl", {"libx264": (6, 12, 0.5), "h264_amf": (6, 12, 8.0),
                                                 "libvvenc": (3, 10, 0.5)})
    step_summary = tmp / "github_step_summary.md"
    step_summary.write_text("## an earlier step\n")
    out = tmp / "runs"
    patch = pytest.MonkeyPatch()
    patch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    try:
        code = trainer_main(["--corpus", str(corpus), "--codec", "libx264", "--codec", "h264_amf", "--codec",
                             "libvvenc", "--codec", "av1_qsv", "--out-dir", str(out), "--epochs", "5",
                             "--workers", "1", "--junit-xml", str(tmp / "ci" / "junit.xml"),
                             "--summary-md", str(tmp / "ci" / "summary.md")])
    finally:
        patch.undo()
    return code, tmp, json.loads((out / "report.json").read_text())


@pytest.mark.slow
def test_junit_xml_has_one_case_per_codec_with_the_gate_reasons(ci_run):
    code, tmp, report = ci_run
    assert code == 1
    root = ET.parse(tmp / "ci" / "junit.xml").getroot()
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    statuses = {c["codec"]: c["status"] for c in report["codecs"]}
    not_passing = [c for c, s in statuses.items() if s in ("fail", "insufficient-sources", "missing-rows")]
    assert suite.get("tests") == "4" and suite.get("failures") == str(len(not_passing))
    assert suite.get("errors") == "0" and suite.get("skipped") == "0" and float(suite.get("time")) > 0
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert sorted(cases) == sorted(statuses)
    for codec, status in statuses.items():
        failure = cases[codec].find("failure")
        entry = next(c for c in report["codecs"] if c["codec"] == codec)
        if status == "pass":
            assert failure is None
        else:
            assert failure is not None and failure.get("type") == status
            for reason in entry["failure_reasons"]:
                assert reason in failure.get("message")
    trained = cases["h264_amf"]
    assert float(trained.get("time")) > 0 and "fold 0: PLCC" in trained.find("failure").text
    assert "ADR-0303" in cases["h264_amf"].find("failure").get("message")
    assert "distinct sources" in cases["libvvenc"].find("failure").get("message")


@pytest.mark.slow
def test_summary_markdown_has_the_verdict_table_plan_corpus_and_ledger(ci_run):
    _code, tmp, report = ci_run
    text = (tmp / "ci" / "summary.md").read_text()
    assert text.startswith("## VMAF predictor gate: ")
    assert ("| codec | status | mean PLCC | spread | weakest fold | linear baseline PLCC | vs shipped | rows "
            "| sources |" in text)
    for entry in report["codecs"]:
        row = next(line for line in text.splitlines() if line.startswith(f"| {entry['codec']} |"))
        assert entry["status"] in row and f"| {entry['n_rows_total']} | {entry['n_distinct_sources']} |" in row
    amf = next(c for c in report["codecs"] if c["codec"] == "h264_amf")
    assert f"| {amf['mean_plcc']:.4f} |" in text
    shipped = amf["incumbent"]  # the committed stub, which saw no real source: scored on every row
    assert shipped["kind"] == "stub" and shipped["n_rows"] == amf["n_rows_total"] == 72
    assert (f"| {shipped['challenger']['plcc']:.4f} vs {shipped['plcc']:.4f} (stub, 72 rows) |" in text)
    assert "### Why codecs did not pass" in text and "**libvvenc** (insufficient-sources)" in text
    assert "### Promotion plan" in text and "### Corpus" in text and "### Rejected rows" in text
    sha = report["run_provenance"]["inputs"][0]["sha256"]
    assert f"`{sha}`" in text


@pytest.mark.slow
def test_the_same_summary_is_appended_to_the_github_step_summary(ci_run):
    _code, tmp, _report = ci_run
    step = (tmp / "github_step_summary.md").read_text()
    assert step.startswith("## an earlier step\n")  # appended, never overwritten
    assert step.endswith((tmp / "ci" / "summary.md").read_text())


def _tree_state(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


@pytest.mark.slow
async def test_review_shows_verdicts_and_folds_writes_nothing_and_q_quits(ci_run):
    _code, tmp, report = ci_run
    report_path = tmp / "runs" / "report.json"
    before = _tree_state(tmp)
    app = ReviewConsole(read_report(report_path), report_path)
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.pause(0.2)
        table = app.table
        for entry in report["codecs"]:
            assert table.state_of(entry["codec"]) == entry["status"]
        assert table.state_of("hevc_qsv") == "not selected"
        table.move_cursor(row=table.get_row_index("h264_amf"))
        await pilot.pause(0.2)
        fold_table = app.query_one("#fold-table")
        assert fold_table.row_count == 5
        amf = next(c for c in report["codecs"] if c["codec"] == "h264_amf")
        shown = " ".join(str(cell) for row in range(5) for cell in fold_table.get_row_at(row))
        assert f"{amf['folds'][0]['plcc']:.4f}" in shown
        assert "ADR-0303" in str(app.query_one("#failure-reasons").render())
        await pilot.press("q")
        await pilot.pause(0.2)
    assert app.return_code == 0 or app.return_code is None
    assert not app.is_running
    assert _tree_state(tmp) == before  # read-only: nothing written, nothing touched


def test_review_refuses_another_schema_version(tmp_path, capsys):
    old = tmp_path / "old_report.json"
    old.write_text(json.dumps({"schema_version": 1, "codecs": []}))
    assert console_main(["--review", str(old)]) == 2
    err = capsys.readouterr().err
    assert "schema version 1" in err and "reads version 3" in err
    assert console_main(["--review", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.slow
def test_every_junit_case_and_summary_row_says_how_the_codec_picks_crf(ci_run):
    _code, tmp, report = ci_run
    cases = {c.get("name"): c for c in ET.parse(tmp / "ci" / "junit.xml").getroot().iter("testcase")}
    text = (tmp / "ci" / "summary.md").read_text()
    section = text[text.index("### CRF picks on held-out ladders"):]
    for entry in report["codecs"]:
        out = cases[entry["codec"]].find("system-out").text
        codec = entry["codec"]
        assert out.startswith(f"probe: quality {PROBE_QUALITY[codec]}, preset {PROBE_PRESET[codec]}\n")
        row = next(line for line in section.splitlines() if line.startswith(f"| {entry['codec']} |"))
        pick = entry["crf_pick"]
        if pick is None:  # no held-out ladder with three quality points: said, not hidden
            assert "crf pick: - (no held-out quality ladder" in out and row.endswith("| - | - | - | - | - |")
        else:
            assert f"off by {pick['mean_abs_quality_error']:.2f} steps" in out
            assert f"| {pick['n']} | {pick['mean_abs_quality_error']:.2f} |" in row


def _report_with_picks() -> dict:
    pick = {"n": 40, "mean_abs_quality_error": 2.14, "mean_abs_vmaf_error": 3.29, "miss_rate": 0.325,
            "mean_bitrate_overspend_pct": -4.25}
    folds = [{"fold_index": k, "plcc": 0.9 + k / 100, "n_train": 300, "n_val": 90, "crf_pick": pick if k else None}
             for k in range(2)]
    codec = {"codec": "libx264", "status": "fail", "failure_reasons": ["ADR-0303 gate part 1: mean PLCC low"],
             "mean_plcc": 0.905, "plcc_spread": 0.01, "n_rows_total": 448, "n_distinct_sources": 16,
             "folds": folds, "baseline": None, "training_seconds": 3.0, "crf_pick": pick}
    other = {"codec": "libx265", "status": "pass", "failure_reasons": [], "mean_plcc": 0.97, "plcc_spread": 0.003,
             "n_rows_total": 70, "n_distinct_sources": 9, "folds": [], "baseline": None, "training_seconds": 1.0,
             "crf_pick": None}
    harness = {"libx264": {"probe_quality": 26, "probe_quality_overridden": True, "default_probe_quality": 28,
                           "probe_preset": "ultrafast", "quality_range": [0, 51]},
               "libx265": {"probe_quality": 28, "probe_quality_overridden": False, "default_probe_quality": 28,
                           "probe_preset": "ultrafast", "quality_range": [15, 40]}}
    summary = {"n_pass": 1, "n_fail": 1, "n_insufficient": 0, "n_missing_rows": 0, "n_error": 0}
    return {"codecs": [codec, other], "harness": harness, "summary": summary,
            "generated_at_utc": "2026-01-01T00:00:00Z"}


def test_junit_puts_the_pick_numbers_and_the_assumed_probe_in_failure_text_and_system_out():
    from trainer.outputs.junit import junit_xml

    root = ET.fromstring(junit_xml(_report_with_picks()).split("\n", 1)[1])
    cases = {c.get("name"): c for c in root.iter("testcase")}
    failure = cases["libx264"].find("failure").text
    assert "fold 1: PLCC 0.9100 (n_train=300, n_val=90); crf pick: off by 2.14 steps, VMAF off by 3.29, misses 32%" \
        in failure  # 32.5 % rounds to even
    assert "fold 0: PLCC 0.9000 (n_train=300, n_val=90)\n" in failure  # a fold without ladders adds nothing
    out = cases["libx264"].find("system-out").text
    assert out.splitlines() == ["probe: quality 26 (overridden; harness default 28), preset ultrafast",
                                "crf pick: off by 2.14 steps, VMAF off by 3.29, misses 32% (> 1 VMAF below target), "
                                "bitrate -4.2% vs the oracle, 40 picks"]
    assert failure.endswith(out)
    assert cases["libx265"].find("failure") is None  # a pass still says how it picks
    assert cases["libx265"].find("system-out").text.endswith(
        "crf pick: - (no held-out quality ladder with >= 3 points)")


def test_summary_has_a_crf_pick_row_per_codec_with_a_dash_where_there_are_no_ladders():
    from trainer.outputs.summary_md import summary_markdown

    lines = summary_markdown(_report_with_picks()).splitlines()
    header = lines.index("| codec | probe | picks | pick off by (steps) | VMAF off at pick | miss rate "
                         "| bitrate vs oracle |")
    assert lines[header + 2] == ("| libx264 | quality 26 (overridden; harness default 28), preset ultrafast | 40 "
                                 "| 2.14 | 3.29 | 32 % | -4.2 % |")
    assert lines[header + 3] == "| libx265 | quality 28, preset ultrafast | - | - | - | - | - |"
