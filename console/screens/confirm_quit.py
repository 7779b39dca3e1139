"""Quitting while training runs stops that training: ask first."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmQuitScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "confirm", "Quit and stop training"),
        Binding("n", "cancel", "Keep running"),
        Binding("escape", "cancel", "Keep running", show=False),
    ]

    def __init__(self, active: list[str]) -> None:
        super().__init__()
        self.active = active

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-dialog"):
            yield Static(f"Training is running ({', '.join(self.active) or 'queued work'}).\n"
                         "Quit and stop it?  y = quit, n = keep running", id="quit-text")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
