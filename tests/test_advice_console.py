"""The console's advice view, driven like an operator (real app, real pool), and its rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.screens.advice import AdviceScreen
from console.widgets.advice_plot import render_advice
from tests.test_console import SIZE, make_app, rows_bytes, wait_for

ADVICE = {
    "sources_now": 16, "draws_per_size": 2, "verdict": "more-sources-likely-enough",
    "reading": "about 23 sources (now 16; draws 19-31) should pass the gate",
    "curve": [{"n_sources": n, "mean_plcc": m, "spread": s,
               "draws": [{"mean_plcc": m - 0.002, "spread": s + 0.001}, {"mean_plcc": m + 0.002, "spread": s - 0.001}]}
              for n, m, s in ((3, 0.90, 0.05), (6, 0.93, 0.02), (12, 0.945, 0.01))],
    "mean_plcc_ceiling": {"estimate": 0.97, "low": 0.96, "high": 0.98},
    "spread_floor": {"estimate": 0.001, "low": 0.0, "high": 0.004},
    "sources_for_mean": {"estimate": 20, "low": 17, "high": 26}, "sources_for_spread": {"estimate": 23, "low": 19,
                                                                                        "high": None},
    "sources_needed": {"estimate": 23, "low": 19, "high": None},
    "sources": [{"src": "shifted_clip", "fold": 2, "n_rows": 28, "bias": -15.1, "rmse": 15.3, "outlier": True,
                 "reading": "predicted 15.1 VMAF too low on average: ..."},
                {"src": "ok_clip", "fold": 1, "n_rows": 28, "bias": 0.3, "rmse": 2.0, "outlier": False,
                 "reading": None}],
}


def test_render_shows_both_curves_with_their_bounds_the_estimate_and_the_outliers():
    text = render_advice("libx264", ADVICE).plain
    assert "more-sources-likely-enough" in text
    assert "mean fold PLCC (bound 0.95)" in text and "fold PLCC spread (bound 0.005)" in text
    assert "-" * 20 in text  # the bound drawn across each plot
    assert "3  6  12" in text
    assert "both 23 (19 or more)" in text and "for the mean 20 (17-26)" in text
    assert "outlier shifted_clip (fold 2, 28 rows, bias -15.1" in text
    assert "ok_clip" not in text


def test_render_while_computing_and_on_error():
    assert "in the background" in render_advice("libx264", None).plain
    assert "could not be computed: boom" in render_advice("libx264", None, "boom").plain
    too_few = {"sources_now": 6, "verdict": "too-few-points", "reading": "2 curve point(s)", "curve": [],
               "sources": []}
    assert "too-few-points" in render_advice("libx264", too_few).plain


@pytest.mark.slow
async def test_advice_key_opens_the_view_and_the_background_result_lands_in_it(tmp_path: Path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(rows_bytes("libx264", 8, 6, 4))
    app = make_app(tmp_path, "--corpus", str(corpus), "--epochs", "2")
    assert any(b.key == "v" and b.show and b.description == "Advice" for b in app.BINDINGS)  # in the footer
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "libx264" in app.results, timeout=120, what="verdict")
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, AdviceScreen), what="advice view")
        screen = app.screen
        assert screen.codec == "libx264"
        await wait_for(pilot, lambda: screen.advice is not None or screen.error is not None, timeout=180,
                       what="advice computed in the background")
        assert screen.error is None
        assert screen.advice["sources_now"] == 8
        assert [p["n_sources"] for p in screen.advice["curve"]] == [3, 4, 5, 6]
        shown = str(screen.query_one("#advice-plot").render())
        assert "mean fold PLCC (bound 0.95)" in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, AdviceScreen), what="view closed")
        await pilot.press("v")  # cached: shown at once, nothing recomputed
        await wait_for(pilot, lambda: isinstance(app.screen, AdviceScreen), what="advice view again")
        assert app.screen.advice is screen.advice
        await pilot.press("escape")
        app.table.move_cursor(row=1)  # libx265: no rows, nothing to advise on
        await pilot.press("v")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, AdviceScreen)
