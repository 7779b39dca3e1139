"""Corpus status: roots, files, rows accepted, where probe inputs come from, rejections, last change.

Roots and codec names come from the operator's disk and corpora, so they are shown cut to size.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.widgets import Static

from console.messages import CorpusStats
from trainer.run import clip, clip_path

PROBE_KINDS = (("from_ladder", "own ladder"), ("from_probe_preset", "probe-preset ladder"),
               ("explicit", "explicit"), ("own_encode", "own encode"))
# Apart from the four (README "Frame sizes only from the probe's preset").
FRAME_SIZE_NOTES = (("sizes_withheld", "frame sizes withheld"),
                    ("sizes_unverified", "frame sizes from no-preset ladders"))


def probe_line(counts: dict[str, int]) -> str:
    """Rows by where their probe inputs come from, as the report's corpus.probe counts them."""
    line = "probe inputs: " + "  ".join(f"{label} {counts.get(key, 0)}" for key, label in PROBE_KINDS)
    notes = [f"{label} {counts[key]}" for key, label in FRAME_SIZE_NOTES if counts.get(key)]
    return f"{line}  ({'; '.join(notes)})" if notes else line


class CorpusPane(Static):
    """The last corpus status, kept so that new probe counts redraw over it."""

    _stats: CorpusStats | None = None

    def show_probe(self, counts: dict[str, int]) -> None:
        """New probe counts (a training snapshot counted them) over the last corpus status shown."""
        if self._stats is not None:
            self.show(replace(self._stats, probe=counts))

    def show(self, stats: CorpusStats) -> None:
        """Roots (present or awaited), counts, rejections by reason and unknown codecs, and the last change."""
        self._stats = stats
        text = Text()
        for root in stats.present_roots:
            text.append("● ", style="green")
            text.append(f"{clip_path(root)}\n")
        for root in stats.missing_roots:
            text.append("○ ", style="dim")
            text.append(f"{clip_path(root)} (missing: watching for it)\n", style="dim")
        text.append(f"files {stats.files}  rows accepted {stats.rows_accepted}  "
                    f"rejected {sum(stats.rejected.values())}\n", style="bold")
        if any(stats.probe.values()):
            text.append(probe_line(stats.probe) + "\n")
        for reason, count in stats.rejected.items():
            text.append(f"  {reason}: {count}\n", style="yellow")
        for name, count in sorted(stats.unknown_codecs.items()):
            text.append(f"  unknown codec {clip(name)!r}: {count}\n", style="yellow")
        if stats.pending_bytes:
            text.append(f"  {stats.pending_bytes} bytes of an unfinished last line pending\n", style="dim")
        text.append(f"last change {stats.last_change}", style="dim")
        self.update(text)
