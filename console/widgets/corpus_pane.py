"""Corpus status: roots present or missing, files, rows accepted, rejections by reason, last change.

Roots and codec names come from the operator's disk and corpora, so they are shown cut to size.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from console.messages import CorpusStats
from trainer.core.display import clip, clip_path


class CorpusPane(Static):
    def show(self, stats: CorpusStats) -> None:
        text = Text()
        for root in stats.present_roots:
            text.append("● ", style="green")
            text.append(f"{clip_path(root)}\n")
        for root in stats.missing_roots:
            text.append("○ ", style="dim")
            text.append(f"{clip_path(root)} (missing: watching for it)\n", style="dim")
        text.append(f"files {stats.files}  rows accepted {stats.rows_accepted}  "
                    f"rejected {sum(stats.rejected.values())}\n", style="bold")
        for reason, count in stats.rejected.items():
            text.append(f"  {reason}: {count}\n", style="yellow")
        for name, count in sorted(stats.unknown_codecs.items()):
            text.append(f"  unknown codec {clip(name)!r}: {count}\n", style="yellow")
        if stats.pending_bytes:
            text.append(f"  {stats.pending_bytes} bytes of an unfinished last line pending\n", style="dim")
        text.append(f"last change {stats.last_change}", style="dim")
        self.update(text)
