"""One run service, two faces: the console and the batch write report.json through the same writer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from console.screens.confirm_plan import ConfirmPlanScreen
from tests.conftest import DEMO_PROMOTE_EPOCHS, shipped_model_dir
from tests.console_pilot import SIZE, make_app, promotion_applied, wait_for
from trainer.ingest.corpus import CodecData
from trainer.ingest.demo_corpus import DEMO_CORPUS_PATH
from trainer.learning.tasks import FinalTask
from trainer.run.cli import main as trainer_main

CODECS = ("libx265", "h264_amf")  # one passes, one fails at DEMO_PROMOTE_EPOCHS: both promotion actions occur


def _corpus(path: Path) -> Path:
    rows = [json.loads(line) for line in DEMO_CORPUS_PATH.read_text().splitlines() if '"synthetic"' in line]
    keep = [{k: v for k, v in r.items() if k != "synthetic"} for r in rows if r["encoder"] in CODECS]
    path.write_text("\n".join(json.dumps(r) for r in keep) + "\n")
    return path


def key_shape(value: object) -> object:
    """The keys of every object, recursively (list entries one by one): what both faces must agree on."""
    if isinstance(value, dict):
        return {key: key_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [key_shape(item) for item in value if isinstance(item, dict | list)]
    return None


async def test_the_console_and_the_batch_write_reports_with_the_same_keys(tmp_path):
    corpus = _corpus(tmp_path / "corpus.jsonl")
    args = ["--corpus", str(corpus), "--epochs", DEMO_PROMOTE_EPOCHS, *[a for c in CODECS for a in ("--codec", c)]]

    console_dir = tmp_path / "console"
    shipped_model_dir(console_dir / "model", CODECS)
    app = make_app(console_dir, *args)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: set(CODECS) <= set(app.results), what="verdicts")
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), what="plan dialog")
        await pilot.press("y")  # the console asks, then says yes
        await wait_for(pilot, lambda: promotion_applied(console_dir / "runs"), what="apply")
    console_report = json.loads((console_dir / "runs" / "report.json").read_text())

    batch_dir = tmp_path / "batch"
    shipped_model_dir(batch_dir / "model", CODECS)
    code = trainer_main(["--out-dir", str(batch_dir / "runs"), "--model-dir", str(batch_dir / "model"),
                         "--workers", "2", "--yes", *args])  # the batch says yes up front
    assert code == 1  # h264_amf fails the gate
    batch_report = json.loads((batch_dir / "runs" / "report.json").read_text())

    assert set(console_report) == set(batch_report)
    assert set(console_report["summary"]) == set(batch_report["summary"])
    assert [c["codec"] for c in console_report["codecs"]] == [c["codec"] for c in batch_report["codecs"]]
    for mine, theirs in zip(console_report["codecs"], batch_report["codecs"], strict=True):
        assert set(mine) == set(theirs), mine["codec"]
    assert key_shape(console_report) == key_shape(batch_report)  # every nested object too
    assert console_report["run_provenance"]["executor"] == batch_report["run_provenance"]["executor"] == {
        "kind": "process-pool", "workers": 2}
    assert console_report["run_provenance"]["entrypoint"] == "predictor-console"
    for report in (console_report, batch_report):  # one promotion path: the same five writes, applied
        assert {(c["codec"], c["action"]) for c in report["promotion"]["applied"]} == {
            ("libx265", "replace-model"), ("libx265", "rewrite-card"), ("libx265", "write-calibration"),
            ("h264_amf", "patch-card-status"), ("h264_amf", "write-calibration")}


@pytest.mark.slow
def test_a_batch_starts_each_full_corpus_retrain_at_its_codecs_passing_verdict(tmp_path, monkeypatch):
    """One worker, libx265 (passes) judged before h264_amf (fails): libx265's retrain is already queued
    when the last verdict arrives, and what ships is the same as a retrain after it."""
    from trainer.engine import engine
    from trainer.learning.events import CodecFinished, Event
    from trainer.run.progress import BatchProgress

    started: list[str] = []  # the codecs whose retrain the engine has built a task for, in order
    seen: list[tuple[str, str, list[str]]] = []
    build, on_event = engine.build_final_task, BatchProgress.on_event

    def recording_build(data: CodecData, *args: Any) -> FinalTask:
        started.append(data.codec)
        return build(data, *args)

    def recording_event(self: BatchProgress, event: Event) -> None:
        on_event(self, event)
        if isinstance(event, CodecFinished):
            seen.append((event.result.codec, event.result.status, list(started)))

    monkeypatch.setattr(engine, "build_final_task", recording_build)
    monkeypatch.setattr(BatchProgress, "on_event", recording_event)
    corpus = _corpus(tmp_path / "corpus.jsonl")
    model_dir = shipped_model_dir(tmp_path / "model", CODECS)
    code = trainer_main(["--corpus", str(corpus), "--epochs", DEMO_PROMOTE_EPOCHS, "--out-dir", str(tmp_path / "runs"),
                         "--model-dir", str(model_dir), "--workers", "1", "--yes",
                         *[a for c in CODECS for a in ("--codec", c)]])
    assert code == 1
    assert seen == [("libx265", "pass", ["libx265"]), ("h264_amf", "fail", ["libx265"])]
    assert started == ["libx265"]  # one retrain: the planner took the one the engine started
    report = json.loads((tmp_path / "runs" / "report.json").read_text())
    assert any(c["action"] == "replace-model" and c["codec"] == "libx265" for c in report["promotion"]["planned"])
