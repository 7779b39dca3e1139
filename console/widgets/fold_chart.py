"""Fold PLCC as bars against the 0.95 floor, with the spread against its 0.005 bound."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from trainer.run import SHIP_GATE_PER_FOLD_MIN, SHIP_GATE_PLCC_SPREAD_MAX, FoldResult

AXIS_MIN, AXIS_MAX = 0.90, 1.00
BAR_WIDTH = 30


def _column(value: float) -> int:
    clipped = min(max(value, AXIS_MIN), AXIS_MAX)
    return round((clipped - AXIS_MIN) / (AXIS_MAX - AXIS_MIN) * BAR_WIDTH)


def render_chart(folds: Sequence[FoldResult]) -> Text:
    """One bar per fold on a 0.90-1.00 axis with the per-fold floor marked, then the spread against its bound.

    An undefined (NaN) fold PLCC draws an empty red bar; the spread needs two defined folds.
    """
    floor_col = _column(SHIP_GATE_PER_FOLD_MIN)
    text = Text()
    axis = f"{AXIS_MIN:.2f}{' ' * (floor_col - 4)}|{SHIP_GATE_PER_FOLD_MIN:.2f}"
    text.append(f"PLCC   {axis}{' ' * max(1, BAR_WIDTH - len(axis) - 3)}{AXIS_MAX:.2f}\n", style="dim")
    for fold in sorted(folds, key=lambda f: f.fold_index):
        value = fold.plcc
        ok = value == value and value >= SHIP_GATE_PER_FOLD_MIN
        filled = _column(value) if value == value else 0
        bar = "".join(
            "|" if i == floor_col and i >= filled else ("█" if i < filled else "·") for i in range(BAR_WIDTH + 1)
        )
        text.append(f"fold{fold.fold_index}  ", style="bold")
        text.append(bar, style="green" if ok else "red")
        text.append(f" {value:.4f}\n" if value == value else " undefined\n")
    finite = [f.plcc for f in folds if f.plcc == f.plcc]
    if len(finite) >= 2:
        spread = max(finite) - min(finite)
        ok = spread <= SHIP_GATE_PLCC_SPREAD_MAX
        text.append(f"spread {spread:.4f} (bound {SHIP_GATE_PLCC_SPREAD_MAX:.4f}) ",
                    style="green" if ok else "red")
        text.append("within bound" if ok else "OVER bound", style="bold green" if ok else "bold red")
    return text


class FoldChart(Static):
    """The gate's two fold tests at a glance."""

    def show(self, folds: Sequence[FoldResult]) -> None:
        """Redraw for the folds in so far ("no folds yet" before the first)."""
        self.update(render_chart(folds) if folds else Text("no folds yet", style="dim"))
