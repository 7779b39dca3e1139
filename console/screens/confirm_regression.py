"""A second, explicit yes before a model that scores below the shipped one replaces it.

Asked before the usual plan confirmation, only for codecs whose promotion is blocked solely as
worse-than-incumbent; the default answer (n, escape) keeps them blocked.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from console.screens.yes_no import YesNoScreen, yes_no_bindings


def render_regressions(regressions: Mapping[str, str]) -> Text:
    """Each codec blocked as worse than the shipped model, with the reason it was blocked."""
    text = Text()
    for codec, reason in regressions.items():
        text.append(f"{codec}\n", style="bold red")
        text.append(f"  {reason}\n", style="red")
    return text


class ConfirmRegressionScreen(YesNoScreen):
    """Dismisses with True only when the operator explicitly allows the regressions."""

    BINDINGS = yes_no_bindings("Promote them anyway", "Keep them blocked")

    def __init__(self, regressions: Mapping[str, str]) -> None:
        super().__init__()
        self.regressions = dict(regressions)

    def compose(self) -> ComposeResult:
        """The question and, below it, each codec that scores below the shipped model and why."""
        with Vertical(id="regression-dialog"):
            yield Static(f"{len(self.regressions)} codec(s) passed the gate but score below the shipped model on the "
                         "rows it never saw. Promote them anyway?  y = include them in the plan (their cards will "
                         "say so), n = keep them blocked", id="regression-title")
            with VerticalScroll(id="regression-body"):
                yield Static(render_regressions(self.regressions), id="regression-text")
