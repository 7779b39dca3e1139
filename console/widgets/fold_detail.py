"""The selected codec's folds as they land, the chart, and its failure reasons in words."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from console.widgets.fold_chart import FoldChart
from trainer.describe import fmt
from trainer.results import CodecResult, FoldResult

HELD_OUT_WIDTH = 18


def held_out_label(sources: Sequence[str], width: int = HELD_OUT_WIDTH) -> str:
    """First held-out source plus how many more, so PLCC/SROCC/RMSE still fit a narrow pane."""
    if not sources:
        return "-"
    more = f" +{len(sources) - 1}" if len(sources) > 1 else ""
    first = sources[0]
    room = width - len(more)
    if len(first) > room:
        first = first[: max(room - 1, 1)] + "…"
    return first + more


class FoldDetail(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        yield DataTable(id="fold-table", cursor_type="none")
        yield FoldChart(id="fold-chart")
        yield Static(id="failure-reasons")

    def on_mount(self) -> None:
        table = self.query_one("#fold-table", DataTable)
        for key, label in (("fold", "#"), ("held", "held-out sources"), ("n", "train/val"),
                           ("plcc", "PLCC"), ("srocc", "SROCC"), ("rmse", "RMSE")):
            table.add_column(label, key=key)

    def show(self, codec: str, state: str, folds: Sequence[FoldResult], result: CodecResult | None) -> None:
        self.query_one("#detail-title", Static).update(Text.assemble((codec, "bold"), f"  {state}"))
        table = self.query_one("#fold-table", DataTable)
        table.clear()
        for fold in sorted(folds, key=lambda f: f.fold_index):
            table.add_row(str(fold.fold_index), held_out_label(fold.held_out_sources),
                          f"{fold.n_train}/{fold.n_val}", fmt(fold.plcc), fmt(fold.srocc), fmt(fold.rmse, 2),
                          key=str(fold.fold_index))
        self.query_one("#fold-chart", FoldChart).show(folds)
        reasons = self.query_one("#failure-reasons", Static)
        if result is None or not result.failure_reasons:
            passed = result is not None and result.status == "pass"
            reasons.update(Text("gate cleared: ready to promote" if passed else "", style="green"))
        else:
            reasons.update(Text("\n".join(f"• {r}" for r in result.failure_reasons), style="red"))
