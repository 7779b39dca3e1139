"""The log pane: the same lines the run's log file gets."""

from __future__ import annotations

from typing import Any

from textual.widgets import RichLog


class LogPane(RichLog):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_lines=2000, wrap=False, markup=False, highlight=False, **kwargs)
