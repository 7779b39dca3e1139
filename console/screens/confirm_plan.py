"""Ask before writing: the promotion plan, file by file, and a yes/no answer."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from console.screens.yes_no import YesNoScreen, yes_no_bindings
from trainer.run import PromotionPlan

ACTION_WORDS = {
    "replace-model": "overwrite model",
    "rewrite-card": "rewrite card (Production)",
    "patch-card-status": "patch card status (Proposed)",
    "write-calibration": "write calibration sidecar (how far to trust the model)",
    "remove-calibration": "remove a stale calibration sidecar",
}


def render_plan(plan: PromotionPlan) -> Text:
    """The plan as the operator reads it: each file change (what, where, sha256 old -> new, why),
    the codecs blocked and why, and the notes on using each model with the harness.
    """
    text = Text()
    if not plan.changes:
        text.append("Nothing to write: the model directory already matches this run.\n", style="green")
    for change in plan.changes:
        text.append(f"{ACTION_WORDS.get(change.action, change.action)}\n", style="bold")
        text.append(f"  {change.path}\n")
        new = (change.new_sha256 or "(removed)")[:16]
        text.append(f"  sha256 {(change.old_sha256 or '(new file)')[:16]} -> {new}\n", style="dim")
        text.append(f"  why: {change.reason}\n")
    for codec, reasons in plan.blocked.items():
        text.append(f"blocked {codec}\n", style="bold red")
        for reason in reasons:
            text.append(f"  {reason}\n", style="red")
    for codec, notes in plan.notes.items():  # the harness-curve warning, then the command to use the model with
        text.append(f"{codec} with the harness\n", style="bold")
        for note in notes:
            text.append(f"  {note}\n", style="bold yellow" if note.startswith("WARNING") else "")
    return text


class ConfirmPlanScreen(YesNoScreen):
    """Dismisses with True only when the operator confirms the writes (y does nothing to write: False)."""

    BINDINGS = yes_no_bindings("Write these files", "Cancel")

    def __init__(self, plan: PromotionPlan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        """The plan's file changes with Write and Cancel buttons; Write is disabled when nothing changes."""
        n = len(self.plan.changes)
        with Vertical(id="plan-dialog"):
            yield Static(f"Promotion plan: {n} file change(s). Nothing is written unless you confirm.",
                         id="plan-title")
            with VerticalScroll(id="plan-body"):
                yield Static(render_plan(self.plan), id="plan-text")
            with Horizontal(id="plan-buttons"):
                yield Button("Write (y)", variant="warning", id="confirm", disabled=not self.plan.changes)
                yield Button("Cancel (n)", variant="primary", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Write confirms (True); Cancel declines (False)."""
        self.dismiss(event.button.id == "confirm")

    def action_confirm(self) -> None:
        """y: confirm, but True only when the plan has something to write."""
        self.dismiss(bool(self.plan.changes))
