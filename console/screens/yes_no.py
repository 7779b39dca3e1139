"""The console's yes/no questions: y confirms, n or escape declines, and the screen says which."""

from __future__ import annotations

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen


def yes_no_bindings(yes: str, no: str) -> list[BindingType]:
    """y and n shown in the footer with what each does; escape declines silently."""
    return [Binding("y", "confirm", yes), Binding("n", "cancel", no), Binding("escape", "cancel", no, show=False)]


class YesNoScreen(ModalScreen[bool]):
    """Dismisses with True on y, False on n or escape. Subclasses set BINDINGS = yes_no_bindings(...)."""

    def action_confirm(self) -> None:
        """y: the operator said yes."""
        self.dismiss(True)

    def action_cancel(self) -> None:
        """n or escape: the operator said no."""
        self.dismiss(False)
