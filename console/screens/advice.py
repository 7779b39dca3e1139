"""The advice view: the selected codec's learning curve over sources, its estimate and outlier sources.

Opened at once; the numbers arrive when the background computation posts them (``show``).
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from console.widgets.advice_plot import AdvicePlot


class AdviceScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("v", "close", "Close advice", show=False),
    ]

    def __init__(self, codec: str, advice: Mapping[str, object] | None = None) -> None:
        super().__init__()
        self.codec = codec
        self.advice = advice
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        """The title, the scrolling advice plot, and the footer with the close keys."""
        with Vertical(id="advice-dialog"):
            yield Static(f"Data advice for {self.codec}: what more sources would do (learning curve over sources)",
                         id="advice-title")
            with VerticalScroll(id="advice-body"):
                yield AdvicePlot(id="advice-plot")
        yield Footer()

    def on_mount(self) -> None:
        """Draw the advice known when the view opened (none yet: the plot says it is training in the background)."""
        self.query_one(AdvicePlot).show(self.codec, self.advice, self.error)

    def show(self, advice: Mapping[str, object] | None, error: str | None = None) -> None:
        """The background computation's result: draw the advice, or the error that stopped it."""
        self.advice, self.error = advice, error
        self.query_one(AdvicePlot).show(self.codec, advice, error)

    def action_close(self) -> None:
        """escape or v: close the view (the advice stays with the app for this verdict)."""
        self.dismiss(None)
