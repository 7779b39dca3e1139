"""The selected codec's folds as they land, the chart, its failure reasons in words, and its held-out ladders."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from console.widgets.calibration_pane import CalibrationView
from console.widgets.fold_chart import FoldChart
from console.widgets.ladder_plot import LadderView
from trainer.run import (
    HARNESS_PROBE_LABEL,
    CodecResult,
    FoldResult,
    clip,
    describe_choice,
    describe_crf_pick,
    describe_harness_curve,
    describe_incumbent,
    fmt,
    pool,
    regression,
    target_offset,
)

HELD_OUT_WIDTH = 18


def held_out_label(sources: Sequence[str], width: int = HELD_OUT_WIDTH) -> str:
    """First held-out source plus how many more, so PLCC/SROCC/RMSE still fit a narrow pane."""
    if not sources:
        return "-"
    more = f" +{len(sources) - 1}" if len(sources) > 1 else ""
    return clip(sources[0], max(width - len(more), 2)) + more


def baseline_text(folds: Sequence[FoldResult]) -> Text:
    """Model vs the linear baseline on the same folds: does the network earn its keep?"""
    pairs = [(f.plcc, f.baseline_plcc) for f in folds]
    if not pairs or not all(math.isfinite(m) and math.isfinite(b) for m, b in pairs):
        return Text("")
    model = sum(m for m, _ in pairs) / len(pairs)
    base = sum(b for _, b in pairs) / len(pairs)
    gap = model - base
    return Text.assemble(f"mean PLCC {model:.4f} vs linear baseline {base:.4f}  ",
                         (f"{gap:+.4f}", "green" if gap >= 0 else "yellow"))


def offset_for_picks(result: CodecResult | None) -> float | None:
    """The target offset at alpha 0.10 of the model the ladders show (the fold models), if calibrated."""
    return None if result is None else target_offset(result.calibration)


class FoldDetail(Vertical):
    """Everything about the selected codec, redrawn as each of its folds lands."""

    def compose(self) -> ComposeResult:
        """Title, fold table, baseline and incumbent lines, calibration, chart, reasons and ladders, top down."""
        yield Static(id="detail-title")
        yield DataTable(id="fold-table", cursor_type="none")
        yield Static(id="baseline-line")
        yield Static(id="incumbent-line")
        yield CalibrationView(id="calibration")
        yield FoldChart(id="fold-chart")
        yield Static(id="failure-reasons")
        yield LadderView(id="ladders")

    def on_mount(self) -> None:
        """The fold table's columns once; ``show`` only replaces rows."""
        table = self.query_one("#fold-table", DataTable)
        for key, label in (("fold", "#"), ("held", "held-out sources"), ("n", "train/val"),
                           ("plcc", "PLCC"), ("base", "base"), ("srocc", "SROCC"), ("rmse", "RMSE"),
                           ("model", "model")):
            table.add_column(label, key=key)

    def show(self, codec: str, state: str, folds: Sequence[FoldResult], result: CodecResult | None) -> None:
        """The codec's folds so far and, once judged, its verdict (``result`` None until then)."""
        self.query_one("#detail-title", Static).update(Text.assemble((codec, "bold"), f"  {state}"))
        table = self.query_one("#fold-table", DataTable)
        table.clear()
        for fold in sorted(folds, key=lambda f: f.fold_index):
            table.add_row(str(fold.fold_index), held_out_label(fold.held_out_sources),
                          f"{fold.n_train}/{fold.n_val}", fmt(fold.plcc), fmt(fold.baseline_plcc),
                          fmt(fold.srocc), fmt(fold.rmse, 2),
                          "-" if fold.model_choice is None else fold.model_choice.chosen,
                          key=str(fold.fold_index))
        pick = describe_crf_pick(pool([f.crf_pick for f in folds]), "\n")
        pick += describe_crf_pick(pool([f.crf_pick_harness_probe for f in folds]), "\n", HARNESS_PROBE_LABEL)
        choice = None if result is None or not folds else result.model_choice()
        if choice is not None:
            pick += f"\nmodel: {describe_choice(choice)} (outer folds)"
        self.query_one("#baseline-line", Static).update(baseline_text(folds) + Text(pick))
        incumbent = Text(describe_incumbent(result.incumbent) if result is not None and folds else "",
                         style="red" if result is not None and regression(result.incumbent) else "")
        for line in describe_harness_curve(result.harness_curve if result is not None and folds else None):
            incumbent.append("\n" + line, style="bold red" if line.startswith("WARNING") else "")
        self.query_one("#incumbent-line", Static).update(incumbent)
        self.query_one("#fold-chart", FoldChart).show(folds)
        self.query_one(CalibrationView).show(result if folds else None)
        self.query_one(LadderView).show(codec, folds, offset_for_picks(result if folds else None))
        reasons = self.query_one("#failure-reasons", Static)
        if result is None or not result.failure_reasons:
            passed = result is not None and result.status == "pass"
            reasons.update(Text("gate cleared: ready to promote" if passed else "", style="green"))
        else:
            reasons.update(Text("\n".join(f"• {r}" for r in result.failure_reasons), style="red"))
