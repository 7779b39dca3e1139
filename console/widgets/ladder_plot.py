"""The selected codec's held-out ladders, one at a time: measured VMAF vs quality beside the model's curve.

What an operator looks at when a pick goes wrong: the fold model's prediction at the ladder's
probe inputs over the codec's whole quality range (the curve the harness searches), the measured
points, and the target lines; below, each target's pick against the oracle. ``[`` and ``]`` step
through every fold's ladders (each fold carries at most MAX_LADDERS_PER_FOLD, worst-picked first).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from trainer.run import MAX_LADDERS_PER_FOLD, QUALITY_RANGE, TARGETS, FoldResult, LadderCurve, harness_pick


def _pick_style(pick: int, oracle: float) -> str:
    off = pick - oracle
    return "green" if off == 0 else ("red" if off > 0 else "yellow")


def offset_pick(curve: LadderCurve, target: float, offset: float) -> int:
    """The harness's pick on this curve when asked for ``target + offset``."""
    return harness_pick(np.asarray(curve.predicted, dtype=np.float64), curve.low, target + offset)


def picks_text(curve: LadderCurve, offset: float | None = None) -> Text:
    """Per target: the pick, the oracle, and how far off (red when the pick asks for less quality);
    with a calibrated ``offset``, also the pick when asked for target + offset."""
    text = Text("picks  ", style="dim")
    for pick in curve.picks:
        text.append(f"{pick.target:g}: ")
        text.append(f"{pick.pick}", style=_pick_style(pick.pick, pick.oracle))
        if offset is not None:
            shifted = offset_pick(curve, pick.target, offset)
            text.append(" -> ", style="dim")
            text.append(f"{shifted}", style=_pick_style(shifted, pick.oracle))
        text.append(f" (oracle {pick.oracle:g})  ", style="dim")
    if not curve.picks:
        text.append("no target inside the measured range")
    elif offset is not None:
        text.append(f"\n-> the pick asked for target {offset:+.1f} (the calibrated offset at alpha 0.1)", style="dim")
    return text


class LadderView(Vertical):
    """Caption, plot and picks for one ladder; hidden while the codec has no ladder to show."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.codec: str | None = None
        self.pick_offset: float | None = None  # the codec's calibrated target offset, when it has one
        self.ladders: list[tuple[int, LadderCurve]] = []  # (fold index, ladder), fold by fold
        self.index = 0

    def compose(self) -> ComposeResult:
        """Caption, plot and pick lines, top down."""
        yield Static(id="ladder-caption")
        yield PlotextPlot(id="ladder-plot")
        yield Static(id="ladder-picks")

    @property
    def current(self) -> tuple[int, LadderCurve] | None:
        """The (fold index, ladder) on show; None when the codec has none."""
        return self.ladders[self.index] if self.ladders else None

    def show(self, codec: str, folds: Sequence[FoldResult], offset: float | None = None) -> None:
        """The codec's ladders, fold by fold, staying on the ladder on show when a new fold lands.

        ``offset`` is the calibrated target offset (VMAF); with it the plot also marks the picks at target + offset.
        """
        self.pick_offset = offset
        ladders = [(f.fold_index, c) for f in sorted(folds, key=lambda f: f.fold_index) for c in f.ladders]
        if codec != self.codec:
            self.index = 0
        elif self.ladders and ladders != self.ladders and self.current in ladders:
            self.index = ladders.index(self.current)  # a fold landed: keep looking at the same ladder
        self.codec, self.ladders = codec, ladders
        self.index = min(self.index, max(len(ladders) - 1, 0))
        self.set_class(bool(ladders), "-has-ladders")
        self._draw()

    def step(self, delta: int) -> bool:
        """Move to the previous/next ladder (wrapping); False when there is none to move to."""
        if len(self.ladders) < 2:
            return False
        self.index = (self.index + delta) % len(self.ladders)
        self._draw()
        return True

    def _draw(self) -> None:
        current = self.current
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        if current is None or self.codec is None:
            plot.refresh()
            return
        fold, curve = current
        self.query_one("#ladder-caption", Static).update(Text.assemble(
            (f"fold {fold} ladder {self.index + 1}/{len(self.ladders)}  ", "bold"), curve.label,
            f"  probe {curve.probe_kbps:.0f} kbps  picks off {curve.mean_pick_error():.1f} steps",
            (f"  ([ ] to step; up to {MAX_LADDERS_PER_FOLD} per fold, worst first)", "dim")))
        low, high = QUALITY_RANGE[self.codec]
        plt.plot(list(curve.predicted_quality), list(curve.predicted), marker="braille", color="cyan",
                 label="model at probe inputs")
        plt.scatter(list(curve.quality), list(curve.vmaf), marker="dot", color="orange", label="measured")
        if self.pick_offset is not None and curve.picks:
            shifted = [offset_pick(curve, p.target, self.pick_offset) for p in curve.picks]
            plt.scatter(shifted, [curve.predicted[q - curve.low] for q in shifted], marker="x", color="green",
                        label=f"picks at target {self.pick_offset:+.1f}")
        for target in TARGETS:
            plt.hline(target, "gray")
        plt.xlim(low, high)
        plt.ylim(max(0.0, min(min(curve.vmaf), min(TARGETS)) - 5.0), 100.0)
        plt.xlabel("quality (CRF)")
        self.query_one("#ladder-picks", Static).update(picks_text(curve, self.pick_offset))
        plot.refresh()
