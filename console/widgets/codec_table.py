"""The 14-codec table: live state and verdict first, then mean PLCC, spread, rows, sources.

State and verdict lead so they stay on screen when the table shares a 100-column terminal with
the side panes and scrolls sideways; the two long statuses get short table labels (the detail
pane and the report keep the exact status).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from trainer.run import SUPPORTED_CODECS, CodecResult, fmt

COLUMNS = (("codec", "codec"), ("state", "state"), ("verdict", "verdict"), ("plcc", "mean PLCC"),
           ("spread", "spread"), ("rows", "rows"), ("srcs", "sources"))
STATE_LABELS = {"insufficient-sources": "few sources", "missing-rows": "no rows"}
# Fixed widths for the columns whose text changes: widening on update is not reliable in
# DataTable (a state once showed as "missin"), and a fixed width also keeps the table still.
# The longest state is "retrying (worker died)" (a fold task runs again after its worker died);
# the longest verdict "ERROR" is shorter than its header.
FIXED_WIDTHS = {"state": len("retrying (worker died)"), "verdict": len("verdict")}
STATE_STYLES = {
    "pass": "bold green",
    "fail": "bold red",
    "error": "bold magenta",
    "insufficient-sources": "yellow",
    "missing-rows": "dim",
    "stale": "italic yellow",
    "queued": "cyan",
    "retrying": "yellow",
}


def verdict_text(status: str) -> Text:
    """What promotion will do: only `pass` replaces the stub; every other status keeps it.

    The state column already names the exact status, so the verdict stays one short word.
    """
    if status == "pass":
        return Text("PASS", style=STATE_STYLES["pass"])
    if status == "error":
        return Text("ERROR", style=STATE_STYLES["error"])
    return Text("FAIL", style=STATE_STYLES["fail"])


class CodecTable(DataTable):
    """One row per supported codec, keyed by codec name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._states: dict[str, str] = {}

    def on_mount(self) -> None:
        """Every supported codec gets its row at once, idle, so rows never move as codecs report."""
        self.cursor_type = "row"
        self.zebra_stripes = True
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=FIXED_WIDTHS.get(key))
        for codec in SUPPORTED_CODECS:
            self.add_row(codec, "idle", "", "-", "-", "0", "0", key=codec)

    @property
    def selected_codec(self) -> str:
        """The codec under the cursor (the first or last row when the cursor is outside the table)."""
        return SUPPORTED_CODECS[min(max(self.cursor_row, 0), len(SUPPORTED_CODECS) - 1)]

    def set_counts(self, codec: str, rows: int, sources: int) -> None:
        """The codec's accepted rows and distinct sources, as the corpus has them now."""
        self.update_cell(codec, "rows", str(rows))
        self.update_cell(codec, "srcs", str(sources))

    def set_state(self, codec: str, state: str) -> None:
        """Show ``state`` by its short label; the exact state stays readable through ``state_of``."""
        style = STATE_STYLES.get(state.split(" ")[0], "")
        self._states[codec] = state
        self.update_cell(codec, "state", Text(STATE_LABELS.get(state, state), style=style))

    def set_result(self, codec: str, result: CodecResult) -> None:
        """A verdict: the status, the mean fold PLCC, its spread and the gate's word."""
        self.set_state(codec, result.status)
        self.update_cell(codec, "plcc", fmt(result.mean_plcc))
        self.update_cell(codec, "spread", fmt(result.plcc_spread))
        self.update_cell(codec, "verdict", verdict_text(result.status))

    def state_of(self, codec: str) -> str:
        """The exact state (status name), not its short table label."""
        return self._states.get(codec, "idle")
