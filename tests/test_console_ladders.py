"""The picture of the picks: held-out ladders computed in the worker, drawn in the console's detail pane."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from console.widgets.corpus_pane import CorpusPane
from console.widgets.ladder_plot import LadderView
from tests.console_pilot import SIZE, make_app, wait_for
from tests.harness_checks import DATA
from trainer.learning.ladder_curves import MAX_LADDERS_PER_FOLD, held_out_ladders

SUBSET = DATA / "crfsweep_libx264_subset.jsonl"


def _ladders(n: int, crfs=(18, 24, 30, 36, 42)) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 1080p ladders, ladder k at probe 1000 + k kbps, measured VMAF 100 - 1.5 (crf - 18)."""
    rows = [[c, 1000 + k, 0, 0, 0, 0, 0, 0, 0, 0, 1, 24, 1920, 1080] for k in range(n) for c in crfs]
    features = np.array(rows, dtype=np.float32)
    return features, (100.0 - 1.5 * (features[:, 0] - 18)).astype(np.float32)


def test_held_out_ladders_carry_measured_points_the_model_curve_and_picks_worst_first():
    features, target = _ladders(10)
    sources = np.array([f"clip{k}" for k in range(10) for _ in range(5)])

    def model(x: np.ndarray) -> np.ndarray:  # exact on every ladder but probe 1003, where it is 4 CRF greedy
        shift = np.where(x[:, 1] == 1003, 4.0, 0.0)
        return 100.0 - 1.5 * (x[:, 0] - 18 - shift)

    ladders = held_out_ladders(features, target, sources, "libx264", model)
    assert len(ladders) == MAX_LADDERS_PER_FOLD == 8
    worst = ladders[0]
    assert worst.label == "clip3 1920x1080@24" and worst.probe_kbps == 1003
    assert worst.quality == (18, 24, 30, 36, 42) and worst.vmaf == tuple(100.0 - 1.5 * (q - 18) for q in worst.quality)
    assert list(worst.predicted_quality) == list(range(0, 52)) and worst.predicted[18] == 100.0 - 1.5 * (18 - 18 - 4)
    assert [(p.target, p.oracle) for p in worst.picks] == [(80.0, 31.0), (85.0, 28.0), (90.0, 24.0), (93.0, 22.0),
                                                           (95.0, 21.0)]
    assert all(p.pick == p.oracle + 4 for p in worst.picks) and worst.mean_pick_error() == 4.0
    assert all(c.mean_pick_error() == 0 for c in ladders[1:])
    assert [c.label for c in ladders[1:]] == sorted(c.label for c in ladders[1:])
    short, short_target = _ladders(2, crfs=(20, 30))  # two quality points: nothing to draw a pick on
    assert held_out_ladders(short, short_target, None, "libx264", model) == ()


@pytest.mark.slow
async def test_the_console_draws_every_held_out_ladder_of_a_real_sweep_and_steps_through_them(tmp_path):
    """Six real clips of the CRF sweep, 5-fold LOSO: each clip's ladder comes back once, from its held-out fold."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(SUBSET, root / "crfsweep.jsonl")
    measured: dict[str, dict[float, float]] = {}
    for line in SUBSET.read_text().splitlines():
        row = json.loads(line)
        measured.setdefault(row["src"], {})[float(row["crf"])] = row["vmaf_score"]
    app = make_app(tmp_path, "--corpus-root", str(root), "--epochs", "20",
                   "--harness-probes", str(DATA / "crfsweep_probe_libx264.jsonl"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "libx264" in app.results, what="libx264 verdict")
        await pilot.pause(0.2)
        detail = str(app.query_one("#baseline-line").render())
        assert "crf pick: off by" in detail and "crf pick with the harness's own probe: off by" in detail
        final = app.results["libx264"].model_choice()  # nested LOSO chose between the network and the curve
        assert final is not None and f"model: `{final['chosen']}` (" in detail and "(outer folds)" in detail
        table = app.query_one("#fold-table")
        assert [table.get_row(str(f.fold_index))[-1] for f in app.folds["libx264"]] == [
            f.model_choice.chosen for f in app.folds["libx264"]]
        n_rows = len(SUBSET.read_text().splitlines())  # every row takes its probe from its own medium ladder
        corpus_text = str(app.query_one(CorpusPane).render())
        assert (f"probe inputs: own ladder {n_rows}  probe-preset ladder 0  explicit 0  own encode 0"
                f"  (frame sizes withheld {n_rows})") in corpus_text  # medium is not the ultrafast probe
        view = app.query_one(LadderView)
        assert view.codec == "libx264" and view.has_class("-has-ladders") and view.display
        folds = {f.fold_index: f for f in app.folds["libx264"]}
        assert [fold for fold, _ in view.ladders] == sorted(fold for fold, _ in view.ladders)
        clips = []
        for fold, curve in view.ladders:
            clip = curve.label.split(" ")[0]
            clips.append(clip)
            assert clip in folds[fold].held_out_sources
            assert curve.quality == tuple(sorted(measured[clip]))
            np.testing.assert_allclose(curve.vmaf, [measured[clip][q] for q in curve.quality], rtol=1e-6)
            assert curve.low == 0 and len(curve.predicted) == 52
            predicted = np.array(curve.predicted)
            assert np.all((predicted >= 0) & (predicted <= 100)) and np.all(np.diff(predicted) <= 0.05)
            assert curve.picks and all(80 <= p.target <= 95 for p in curve.picks)
        assert sorted(clips) == sorted(measured)

        caption = app.query_one("#ladder-caption")
        assert view.index == 0 and view.ladders[0][1].label in str(caption.render())
        await pilot.press("right_square_bracket")
        assert view.index == 1 and view.ladders[1][1].label in str(caption.render())
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert view.index == len(view.ladders) - 1
        assert "oracle" in str(app.query_one("#ladder-picks").render())
        # How far to trust it: both calibration tables' rows for this model, and the picks at target + offset.
        calibration = app.results["libx264"].calibration
        assert calibration["status"] == "ok" and calibration["n_sources"] == len(measured)
        cal_table = app.query_one("#calibration-table")
        labels = [cal_table.get_row_at(i)[:2] for i in range(cal_table.row_count)]
        assert labels == [["this model", "plain"], ["this model", "0.05"], ["this model", "0.1"], ["this model", "0.2"],
                          ["harness curve as published (0 kbps)", "plain"],
                          ["harness curve with the bitrate parse fixed", "plain"]]
        assert app.query_one("#calibration").display
        offset = next(r["target_offset_vmaf"] for r in calibration["pick_table"] if r["alpha"] == 0.1)
        assert view.pick_offset == offset
        picks_line = str(app.query_one("#ladder-picks").render())
        assert " -> " in picks_line and f"target {offset:+.1f}" in picks_line
        await pilot.press("down")  # another codec, with no rows: nothing to draw, the view hides
        await pilot.pause(0.1)
        assert view.codec == "libx265" and view.ladders == [] and not view.has_class("-has-ladders")

        # A clip appended later: the refresh stays incremental, and the retrain's snapshot recounts the probes.
        lines = SUBSET.read_text().splitlines()
        first = json.loads(lines[0])["src"]
        extra = [json.dumps({**row, "src": row["src"] + "-again"}) for row in map(json.loads, lines)
                 if row["src"] == first]
        with (root / "crfsweep.jsonl").open("a") as handle:
            handle.write("\n".join(extra) + "\n")
        expected = f"probe inputs: own ladder {n_rows + len(extra)}  probe-preset ladder 0"
        await wait_for(pilot, lambda: expected in str(app.query_one(CorpusPane).render()), timeout=120,
                       what="probe counts after the retrain's snapshot")


@pytest.mark.slow
async def test_the_console_trains_on_the_harness_probe_when_told_to(tmp_path):
    """--train-on-harness-probes in the console: every row's probe is the harness's, so both pick lines agree."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(SUBSET, root / "crfsweep.jsonl")
    app = make_app(tmp_path, "--corpus-root", str(root), "--epochs", "20", "--train-on-harness-probes",
                   "--harness-probes", str(DATA / "crfsweep_probe_libx264.jsonl"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "libx264" in app.results, what="libx264 verdict")
        await pilot.pause(0.2)
        n_rows = len(SUBSET.read_text().splitlines())
        corpus_text = str(app.query_one(CorpusPane).render())
        assert f"probe inputs: own ladder 0  probe-preset ladder 0  explicit {n_rows}  own encode 0" in corpus_text
        assert "withheld" not in corpus_text  # a real probe's row takes no ladder's frame sizes
        lines = str(app.query_one("#baseline-line").render()).splitlines()
        plain = next(line for line in lines if line.startswith("crf pick: off by"))
        probed = next(line for line in lines if line.startswith("crf pick with the harness's own probe: off by"))
        assert plain.split(": off by")[1] == probed.split(": off by")[1]
