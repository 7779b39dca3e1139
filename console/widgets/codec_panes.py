"""The codec table beside the selected codec's detail and the corpus: shared by the live and review consoles."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from console.widgets.codec_table import CodecTable
from console.widgets.corpus_pane import CorpusPane
from console.widgets.fold_detail import FoldDetail


class CodecPanes(Horizontal):
    """The panes both consoles lay out alike, so review mode looks like the run it reviews."""

    def compose(self) -> ComposeResult:
        """The codec table on the left; the selected codec's detail above the corpus on the right."""
        yield CodecTable(id="codec-table")
        with Vertical(id="side"):
            yield FoldDetail(id="detail")
            yield CorpusPane(id="corpus")
