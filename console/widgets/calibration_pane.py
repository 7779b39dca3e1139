"""How far to trust the selected codec's model: interval margins and target offsets, for both candidates.

The harness's own curve (no model) follows, as published (0 kbps) and with the bitrate parse fixed.
"this model" is what a PASS would ship (calibrated by its LOSO out-of-fold errors); "shipped …" is
the model kept otherwise (calibrated by its own errors on sources it never saw). Each row's
coverage and misses were judged with every fold's margin taken from the other folds only.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from trainer.run import CALIBRATION_HEADER, CodecResult, calibration_curve_rows, calibration_rows


def _status_note(label: str, calibration: object) -> str | None:
    if not isinstance(calibration, Mapping) or calibration.get("status") == "ok":
        return None
    return f"{label}: no calibration ({calibration.get('status')}: {calibration.get('reason')})"


class CalibrationView(Vertical):
    """Hidden until the selected codec has a calibration to show."""

    def compose(self) -> ComposeResult:
        """A caption (what the columns mean, and why a side has no calibration) above the table."""
        yield Static(id="calibration-caption")
        yield DataTable(id="calibration-table", cursor_type="none")

    def on_mount(self) -> None:
        """The columns once; ``show`` only replaces rows."""
        table = self.query_one("#calibration-table", DataTable)
        for label in CALIBRATION_HEADER:
            table.add_column(label, key=label)

    def show(self, result: CodecResult | None) -> None:
        """This model's calibration and the shipped one's, side by side; hidden when neither has rows or notes."""
        table = self.query_one("#calibration-table", DataTable)
        table.clear()
        incumbent = (result.incumbent or {}) if result is not None else {}
        kept_label = f"shipped {incumbent.get('kind', 'model')}"
        kept = incumbent.get("calibration")  # a Mapping, or absent (the rows and notes skip anything else)
        sides = [] if result is None else [("this model", result.calibration),
                                           (kept_label, kept if isinstance(kept, Mapping) else None)]
        rows = [row for label, calibration in sides for row in calibration_rows(label, calibration)]
        if rows and result is not None:  # what the harness picks with no model, on the same picks
            rows += calibration_curve_rows(result.harness_curve)
        for i, row in enumerate(rows):
            table.add_row(*row, key=str(i))
        notes = [note for label, calibration in sides if (note := _status_note(label, calibration))]
        caption = Text("calibration", style="bold")
        caption.append("  interval = the harness's --with-uncertainty half-width; ask for target + offset "
                       "to hold the miss rate", style="dim")
        for note in notes:
            caption.append(f"\n{note}", style="yellow")
        self.query_one("#calibration-caption", Static).update(caption)
        self.set_class(bool(rows or notes), "-has-calibration")
