"""The operator console, driven like an operator: real app, real pool, real watchdog on a temp dir."""

import hashlib
import json
import multiprocessing
import multiprocessing.context
import os
import signal
from pathlib import Path

import orjson
import pytest

from console.app import PredictorConsole
from console.screens.confirm_plan import ConfirmPlanScreen
from console.screens.confirm_quit import ConfirmQuitScreen
from console.widgets.codec_table import verdict_text
from console.widgets.fold_detail import HELD_OUT_WIDTH, held_out_label
from tests.conftest import DEMO_PROMOTE_EPOCHS
from tests.console_pilot import SIZE, count_queues, make_app, promotion_applied, wait_for
from trainer.engine.engine import MAX_WORKER_DEATHS
from trainer.ingest.demo_corpus import DEMO_CORPUS_PATH
from trainer.ingest.synthetic import synthetic_rows
from trainer.shipping.artifacts import card_path, model_path, sha256_file

REPO_MODEL_DIR = Path(__file__).resolve().parent.parent / "model"


def rows_bytes(codec: str, sources: int, per_source: int, seed: int) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in synthetic_rows(codec, sources, per_source, 0.5, seed,
                                                                    mark_generated=False))


@pytest.mark.slow
async def test_live_ingest_queues_a_codec_once_per_burst_and_streams_its_folds(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    corpus = root / "ingest.jsonl"
    corpus.write_bytes(rows_bytes("libx264", 6, 6, 1))
    # A 1 s quiet period: a burst of writes on a loaded 2-core CI box must still count as one burst.
    app = make_app(tmp_path, "--corpus-root", str(root), "--epochs", "10", debounce_s=1.0)
    queued = count_queues(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "libx264" in app.results, what="initial verdict")
        assert queued["libx264"] == 1
        extra = rows_bytes("libx264", 8, 6, 2)
        body, tail = extra[:-40], extra[-40:]
        with corpus.open("ab") as handle:  # an ingest appending in several writes, the last line unfinished
            for start in range(0, len(body), 1500):
                handle.write(body[start : start + 1500])
                handle.flush()
                await pilot.pause(0.02)
        await wait_for(pilot, lambda: queued["libx264"] == 2, what="re-queue after the burst")
        await wait_for(pilot, lambda: len(app.folds["libx264"]) == 5 and "libx264" in app.results, what="folds")
        await pilot.pause(1.5)  # a quiet period passes: no further queueing
        assert queued["libx264"] == 2
        stats_rows = int(str(app.table.get_cell("libx264", "rows")))
        assert stats_rows == 36 + 48 - 1  # the unfinished last line is pending, not rejected
        assert app.session.corpus().rejections.total == 0
        assert app.results["libx264"].n_distinct_sources == 8
        assert app.query_one("#fold-table").row_count == 5  # libx264 is the selected row
        with corpus.open("ab") as handle:  # the writer finishes its line
            handle.write(tail)
        await wait_for(pilot, lambda: app.rows["libx264"] == 84, what="completed line")
        assert app.session.corpus().rejections.total == 0
        await wait_for(pilot, lambda: queued["libx264"] == 3 and len(app.folds["libx264"]) == 5,
                       what="retrained on the completed line")
        # A root that appears later is picked up.
        late = tmp_path / "late"
        app.watcher._roots.append(late)
        late.mkdir()
        (late / "more.jsonl").write_bytes(rows_bytes("libx265", 5, 6, 3))
        await wait_for(pilot, lambda: queued["libx265"] == 1, what="late root")


def _real_style_corpus(path: Path) -> Path:
    rows = [json.loads(line) for line in DEMO_CORPUS_PATH.read_text().splitlines() if '"synthetic"' in line]
    keep = [{k: v for k, v in r.items() if k != "synthetic"} for r in rows if r["encoder"] in {"libx265", "h264_amf"}]
    path.write_text("\n".join(json.dumps(r) for r in keep) + "\n")
    return path


def _hashes(model_dir: Path) -> dict[str, str | None]:
    return {p.name: sha256_file(p) for p in sorted(model_dir.glob("predictor_*"))}


@pytest.mark.slow
async def test_promote_asks_cancel_writes_nothing_and_confirm_writes(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for codec in ("libx265", "h264_amf"):
        for path in (model_path(REPO_MODEL_DIR, codec), card_path(REPO_MODEL_DIR, codec)):
            (model_dir / path.name).write_bytes(path.read_bytes())
    corpus = _real_style_corpus(tmp_path / "real.jsonl")
    app = make_app(tmp_path, "--corpus", str(corpus), "--epochs", DEMO_PROMOTE_EPOCHS)
    before = _hashes(model_dir)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: {"libx265", "h264_amf"} <= set(app.results), what="verdicts")
        assert app.results["libx265"].status == "pass" and app.results["h264_amf"].status == "fail"
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), what="plan dialog")
        actions = {(c.codec, c.action) for c in app.screen.plan.changes}
        assert actions == {("libx265", "replace-model"), ("libx265", "rewrite-card"), ("libx265", "write-calibration"),
                           ("h264_amf", "patch-card-status"), ("h264_amf", "write-calibration")}
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmPlanScreen), what="dialog closed")
        await pilot.pause(0.3)
        assert _hashes(model_dir) == before

        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), what="plan dialog again")
        await pilot.press("y")
        await wait_for(pilot, lambda: promotion_applied(tmp_path / "runs"), what="apply")
    after = _hashes(model_dir)
    assert after["predictor_libx265.onnx"] != before["predictor_libx265.onnx"]
    assert after["predictor_h264_amf.onnx"] == before["predictor_h264_amf.onnx"]
    assert "## Status: Production" in (model_dir / "predictor_libx265_card.md").read_text()
    assert "## Status: Proposed (gate-failed:" in (model_dir / "predictor_h264_amf_card.md").read_text()
    report = json.loads((tmp_path / "runs" / "report.json").read_text())
    assert len(report["promotion"]["applied"]) == 5
    # Each model now in model/ has its sidecar, naming that very file (the promoted model; the kept stub).
    for codec in ("libx265", "h264_amf"):
        sidecar = json.loads((model_dir / f"predictor_{codec}_calibration.json").read_text())
        assert sidecar["model_sha256"] == after[f"predictor_{codec}.onnx"] and sidecar["method"] == "split-conformal"
    assert "## Calibration" in (model_dir / "predictor_h264_amf_card.md").read_text()


@pytest.mark.slow
async def test_promote_writes_the_rows_and_digests_the_gate_judged_and_holds_a_codec_while_it_retrains(tmp_path):
    """The corpus grows after the verdicts: `p` promotes the judged rows under the digest they had; once
    a newer job of the codec starts, that codec is held out of the plan with the reason."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for codec in ("libx265", "h264_amf"):
        for path in (model_path(REPO_MODEL_DIR, codec), card_path(REPO_MODEL_DIR, codec)):
            (model_dir / path.name).write_bytes(path.read_bytes())
    corpus = _real_style_corpus(tmp_path / "real.jsonl")
    v1_bytes = corpus.read_bytes()
    app = make_app(tmp_path, "--corpus", str(corpus), auto_train=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.rows["libx265"] == 720, what="corpus")
        await pilot.press("T")
        await wait_for(pilot, lambda: {"libx265", "h264_amf"} <= set(app.results), timeout=300, what="verdicts")
        assert app.results["libx265"].status == "pass" and app.results["libx265"].n_rows_total == 720
        v1 = [json.loads(line) for line in v1_bytes.decode().splitlines() if '"libx265"' in line]
        more = [{**r, "src": f"{r['src']}-b", "vmaf_score": r["vmaf_score"] * 0.9} for r in v1 * 2]
        with corpus.open("a") as handle:  # v2: the verdicts above never saw these rows
            handle.write("".join(json.dumps(r) + "\n" for r in more))
        await wait_for(pilot, lambda: app.table.state_of("libx265") == "stale", what="libx265 stale")
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), timeout=300, what="plan dialog")
        card_change = next(c for c in app.screen.plan.changes if c.action == "rewrite-card")
        digest = hashlib.sha256(v1_bytes).hexdigest()
        assert f"`real.jsonl` ({len(v1_bytes)} bytes, 720 rows, sha256 `{digest}`)" in card_change.content.decode()
        await pilot.press("y")
        await wait_for(pilot, lambda: promotion_applied(tmp_path / "runs"), timeout=120, what="apply")

        app.queue("libx265")  # what `t` does on its row: a newer job on v1 + v2
        await wait_for(pilot, lambda: "libx265" in app.session.active_codecs(), what="the newer job")
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), timeout=300, what="plan again")
        assert "libx265" in app.session.active_codecs()  # still training when the plan was made
        plan = app.screen.plan
        assert [c.codec for c in plan.changes] == [] and "a newer job is training" in plan.blocked["libx265"][0]
        await pilot.press("n")
    card = (model_dir / "predictor_libx265_card.md").read_text()
    assert "## Status: Production" in card and "corpus kind: `real-N=720`" in card
    assert f"`real.jsonl` ({len(v1_bytes)} bytes, 720 rows, sha256 `{digest}`)" in card
    assert f"- sha256: `{sha256_file(model_dir / 'predictor_libx265.onnx')}`" in card


async def start_training_libx264(pilot, app: PredictorConsole) -> None:
    """Wait for libx264's 40 rows, train it (the selected codec), and return once it is training."""
    await wait_for(pilot, lambda: app.rows["libx264"] == 40, what="corpus")
    await pilot.press("t")
    await wait_for(pilot, lambda: app.table.state_of("libx264").startswith("training"), what="training")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pool_workers() -> list[multiprocessing.Process]:
    """This process's pool workers (QuietWorker and any other fork-server process)."""
    return [p for p in multiprocessing.active_children() if isinstance(p, multiprocessing.context.ForkServerProcess)]


@pytest.mark.slow
async def test_killed_worker_marks_error_and_the_next_job_still_runs(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "c.jsonl").write_bytes(rows_bytes("libx264", 5, 8, 1) + rows_bytes("libx265", 5, 8, 2))
    app = make_app(tmp_path, "--corpus-root", str(root), "--epochs", "1500", auto_train=False)
    async with app.run_test(size=SIZE) as pilot:
        await start_training_libx264(pilot, app)
        # Killed each time libx264's tasks run on workers (a task still queued would simply run again): the
        # first deaths are retried as the batch retries them (the row says so), the third ends the codec.
        states: list[str] = []
        killed: set[int] = set()

        def busy() -> list[int]:
            return [w.pid for w in _pool_workers() if w.pid not in killed and _cpu_seconds(w.pid) >= 0.3]

        while "libx264" not in app.results:
            assert len(states) < 2 * (1 + MAX_WORKER_DEATHS), states
            await wait_for(pilot, lambda: "libx264" in app.results or busy(), what="task running")
            for pid in busy():
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            await wait_for(pilot, lambda: app.table.state_of("libx264").startswith("retrying")
                           or "libx264" in app.results, what="retry or verdict")
            states.append(app.table.state_of("libx264"))
        assert len(states) > MAX_WORKER_DEATHS and states[0] == "retrying (worker died)", states
        await wait_for(pilot, lambda: "libx264" in app.results, what="error verdict")
        result = app.results["libx264"]
        assert result.status == "error" and "worker process died" in result.failure_reasons[0]
        assert app.table.state_of("libx264") == "error"

        app.session.service.engine.profile = app.session.service.engine.profile.__class__(
            **{**app.session.service.engine.profile.as_dict(), "epochs": 20}
        )
        await pilot.press("down", "t")
        await wait_for(pilot, lambda: "libx265" in app.results, what="next job")
        assert app.results["libx265"].status in {"pass", "fail"}


@pytest.mark.slow
async def test_quit_with_jobs_running_asks_and_leaves_no_orphans(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "c.jsonl").write_bytes(rows_bytes("libx264", 5, 8, 1))
    app = make_app(tmp_path, "--corpus-root", str(root), "--epochs", "3000", auto_train=False)
    async with app.run_test(size=SIZE) as pilot:
        await start_training_libx264(pilot, app)
        await wait_for(pilot, lambda: bool(_pool_workers()), what="pool workers")  # the row says training first
        workers = _pool_workers()
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmQuitScreen), what="quit question")
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmQuitScreen), what="kept running")
        assert app.is_running and app.session.busy()
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmQuitScreen), what="quit question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, what="exit")
    assert workers and not any(w.is_alive() for w in workers)


@pytest.mark.parametrize("key", ["t", "T", "c", "r", "a", "p", "q", "left_square_bracket", "right_square_bracket"])
def test_every_action_has_a_footer_key_with_a_description(key):
    bindings = {b.key: b for b in PredictorConsole.BINDINGS}
    assert bindings[key].description and bindings[key].show


def test_batch_only_flags_are_refused_by_the_console(capsys):
    from console.cli import main

    assert main(["--yes"]) == 2
    assert "--yes only apply with --batch" in capsys.readouterr().err
    assert main(["--codec", "libx266"]) == 2
    assert "unknown codec 'libx266'" in capsys.readouterr().err


def test_held_out_label_keeps_the_first_source_and_counts_the_rest():
    assert held_out_label([]) == "-"
    assert held_out_label(["libx264_src002"]) == "libx264_src002"
    assert held_out_label(["libx264_src002", "libx264_src007", "libx264_src011"]) == "libx264_src002 +2"
    long_label = held_out_label(["a_very_long_source_name_from_a_corpus", "b"])
    assert len(long_label) == HELD_OUT_WIDTH and "…" in long_label and long_label.endswith(" +1")


@pytest.mark.parametrize(("status", "word"), [("pass", "PASS"), ("fail", "FAIL"), ("error", "ERROR"),
                                              ("insufficient-sources", "FAIL"), ("missing-rows", "FAIL")])
def test_verdict_is_what_promotion_will_do(status, word):
    assert verdict_text(status).plain == word


@pytest.mark.parametrize(("size", "table_width"), [((100, 28), None), ((120, 34), None), ((140, 44), 70)])
async def test_both_panes_stay_on_screen_from_the_minimum_size_up(tmp_path, size, table_width):
    root = tmp_path / "root"
    root.mkdir()
    app = make_app(tmp_path, "--corpus-root", str(root))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        table = app.query_one("#codec-table").region
        side = app.query_one("#side").region
        assert side.right <= size[0] and side.width >= 40, (table, side)
        if table_width is not None:
            assert table.width == table_width
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="exit")


EVERY_STATE = ("idle", "stale", "queued", "training 0/5", "training 5/5", "pass", "fail", "insufficient-sources",
               "missing-rows", "error", "retrying (worker died)")


@pytest.mark.parametrize("size", [(100, 28), (120, 34), (140, 44)])
async def test_every_state_and_verdict_is_rendered_whole_without_scrolling(tmp_path, size):
    from console.widgets.codec_table import STATE_LABELS
    from trainer.core.codecs import SUPPORTED_CODECS
    from trainer.learning.results import CodecResult

    empty_root = tmp_path / "empty"  # no rows: the initial scan marks nothing stale over the states set here
    empty_root.mkdir()
    app = make_app(tmp_path, "--corpus-root", str(empty_root), auto_train=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        table = app.table
        for codec, state in zip(SUPPORTED_CODECS, EVERY_STATE, strict=False):
            if state in ("pass", "fail", "insufficient-sources", "missing-rows", "error"):
                table.set_result(codec, CodecResult(codec, state, 0, 0))
            else:
                table.set_state(codec, state)
        expected = [(row, codec, state) for row, (codec, state) in
                    enumerate(zip(SUPPORTED_CODECS, EVERY_STATE, strict=False), start=1)]
        await wait_for(pilot, lambda: all(f" {STATE_LABELS.get(state, state)} " in table.render_line(row).text
                                          for row, _codec, state in expected), timeout=20,
                       what="re-render: " + repr([table.render_line(r).text for r, _c, _s in expected]))
        assert table.scroll_x == 0
        for row, codec, state in expected:
            shown = table.render_line(row).text  # what the terminal shows of this row, inside the pane
            assert table.state_of(codec) == state
            assert f" {STATE_LABELS.get(state, state)} " in shown, (size, shown)
            verdict = str(verdict_text(state)) if state in ("pass", "fail", "insufficient-sources",
                                                           "missing-rows", "error") else ""
            assert verdict in shown, (size, shown)


@pytest.mark.slow
async def test_a_worse_challenger_is_promoted_only_after_a_second_confirmation(tmp_path):
    """Promote from corpus A (batch), then in the console a gate-passing but worse challenger from corpus B."""
    from console.screens.confirm_regression import ConfirmRegressionScreen
    from tests.conftest import CHAMPION_A_EPOCHS, CHAMPION_B_EPOCHS, write_champion_corpora
    from trainer.run.cli import main

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for path in (model_path(REPO_MODEL_DIR, "libx265"), card_path(REPO_MODEL_DIR, "libx265")):
        (model_dir / path.name).write_bytes(path.read_bytes())
    corpus_a, corpus_b = write_champion_corpora(tmp_path / "corpora")
    assert main(["--corpus", str(corpus_a), "--codec", "libx265", "--model-dir", str(model_dir), "--out-dir",
                 str(tmp_path / "runs-a"), "--epochs", CHAMPION_A_EPOCHS, "--yes"]) == 0
    before = _hashes(model_dir)
    app = make_app(tmp_path, "--corpus", str(corpus_b), "--epochs", CHAMPION_B_EPOCHS)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "libx265" in app.results, timeout=180, what="verdict")
        assert app.results["libx265"].status == "pass"
        await pilot.press("down")  # select libx265: the detail pane compares it with the shipped model
        await wait_for(pilot, lambda: app.table.selected_codec == "libx265", what="selection")
        line = str(app.query_one("#incumbent-line").content)
        assert line.startswith("vs shipped production") and "on 960 rows from 48 unseen sources" in line

        await pilot.press("p")  # first time: keep it blocked
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRegressionScreen), timeout=120, what="2nd ask")
        assert list(app.screen.regressions) == ["libx265"]
        assert app.screen.regressions["libx265"].startswith("worse-than-incumbent: on 960 rows")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), what="plan dialog")
        assert app.screen.plan.blocked["libx265"][0].startswith("worse-than-incumbent")
        # kept: its card patch, and its sidecar re-made from its own errors on corpus B's unseen sources
        assert {c.action for c in app.screen.plan.changes} == {"patch-card-status", "write-calibration"}
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmPlanScreen), what="dialog closed")
        assert _hashes(model_dir) == before

        await pilot.press("p")  # second time: allow it, then confirm the plan
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRegressionScreen), timeout=120, what="2nd ask")
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), timeout=120, what="plan dialog")
        assert ("libx265", "replace-model") in {(c.codec, c.action) for c in app.screen.plan.changes}
        assert not app.screen.plan.blocked
        await pilot.press("y")
        await wait_for(pilot, lambda: promotion_applied(tmp_path / "runs"), what="apply")
    assert _hashes(model_dir)["predictor_libx265.onnx"] != before["predictor_libx265.onnx"]
    card = (model_dir / "predictor_libx265_card.md").read_text()
    assert "## Status: Production" in card
    assert "-- promoted anyway: the operator confirmed it a second time in the console" in card
