"""Quitting while training runs stops that training: ask first."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from console.screens.yes_no import YesNoScreen, yes_no_bindings


class ConfirmQuitScreen(YesNoScreen):
    BINDINGS = yes_no_bindings("Quit and stop training", "Keep running")

    def __init__(self, active: list[str]) -> None:
        super().__init__()
        self.active = active

    def compose(self) -> ComposeResult:
        """The question, naming the codecs whose training quitting would stop."""
        with Vertical(id="quit-dialog"):
            yield Static(f"Training is running ({', '.join(self.active) or 'queued work'}).\n"
                         "Quit and stop it?  y = quit, n = keep running", id="quit-text")
