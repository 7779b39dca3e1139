"""The promotion plan of a report: each file, old -> new sha256 and why, or why nothing was planned."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static


class PlanPane(Static):
    """Review mode's promotion section, read from the report as it was written."""

    def show(self, promotion: object) -> None:
        """Each planned change, the blocked codecs and any apply error; ``promotion`` is the report's section."""
        text = Text()
        if not isinstance(promotion, dict):
            text.append("no promotion section in this report", style="dim")
        elif "skipped" in promotion:
            text.append(f"skipped: {promotion['skipped']}", style="dim")
        else:
            planned = promotion.get("planned") or []
            applied = bool(promotion.get("applied"))
            state = f"applied, backup {promotion.get('backup_stamp')}" if applied else "not applied"
            text.append(f"{len(planned)} file change(s), {state}\n", style="bold")
            for change in planned:
                old = (change.get("old_sha256") or "(new)")[:12]
                text.append(f"  {change['action']:<17} {Path(str(change['path'])).name}  {old} -> "
                            f"{str(change['new_sha256'])[:12]}  ({change['reason']})\n")
            for codec, reasons in (promotion.get("blocked") or {}).items():
                text.append(f"  blocked {codec}: {'; '.join(reasons)}\n", style="yellow")
            if promotion.get("error"):
                text.append(f"  not applied: {promotion['error']}\n", style="red")
        self.update(text)
