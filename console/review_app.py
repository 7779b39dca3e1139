"""``predictor-console --review REPORT.json``: the console over a finished report, read-only.

Same table, fold detail, chart and corpus pane as the live console, plus the promotion plan;
no process pool, no watcher, nothing written. For a report downloaded from a CI run.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header

from console.messages import CorpusStats
from console.widgets.codec_panes import CodecPanes
from console.widgets.codec_table import CodecTable
from console.widgets.corpus_pane import CorpusPane
from console.widgets.fold_detail import FoldDetail
from console.widgets.plan_pane import PlanPane
from trainer.run import SUPPORTED_CODECS, clip_path, codec_results


class ReviewConsole(App[int]):
    CSS_PATH = "console.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]
    TITLE = "VMAF predictor console — review (read-only)"
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, report: dict, report_path: Path) -> None:
        super().__init__()
        self.report = report
        self.report_path = report_path
        self.results = codec_results(report)
        self.sub_title = clip_path(str(report_path))

    def compose(self) -> ComposeResult:
        """The header, the codec panes (table, detail, corpus) and the report's promotion plan."""
        yield Header()
        yield CodecPanes(id="main")
        yield PlanPane(id="plan")
        yield Footer()

    @property
    def table(self) -> CodecTable:
        """The codec table: its highlighted row is the codec the detail pane shows."""
        return self.query_one(CodecTable)

    def on_mount(self) -> None:
        """Fill every pane from the report: each codec's counts and verdict, the corpus, the plan."""
        generated = self.report.get("generated_at_utc", "?")
        self.table.border_title = f"codecs  (report of {generated})"
        self.query_one("#detail").border_title = "selected codec"
        self.query_one("#corpus").border_title = "corpus"
        self.query_one("#plan").border_title = "promotion plan"
        for codec in SUPPORTED_CODECS:
            result = self.results.get(codec)
            if result is None:
                self.table.set_state(codec, "not selected")
                continue
            self.table.set_counts(codec, result.n_rows_total, result.n_distinct_sources)
            self.table.set_result(codec, result)
        self.query_one(CorpusPane).show(self._corpus_stats())
        self.query_one(PlanPane).show(self.report.get("promotion"))
        self.table.focus()
        self.show_selected()

    def _corpus_stats(self) -> CorpusStats:
        corpus = self.report.get("corpus") or {}
        rows = {c: r.n_rows_total for c, r in self.results.items()}
        sources = {c: r.n_distinct_sources for c, r in self.results.items()}
        return CorpusStats(
            present_roots=list(corpus.get("roots") or []),
            missing_roots=list(corpus.get("missing_roots") or []),
            files=len((self.report.get("run_provenance") or {}).get("inputs") or []),
            rows_accepted=int(corpus.get("rows_accepted") or 0),
            rejected={r: n for r, n in (corpus.get("rejected") or {}).items() if n},
            rows_per_codec={c: rows.get(c, 0) for c in SUPPORTED_CODECS},
            sources_per_codec={c: sources.get(c, 0) for c in SUPPORTED_CODECS},
            last_change=f"report {self.report.get('generated_at_utc', '?')}",
            unknown_codecs=dict(corpus.get("unknown_codecs") or {}),
            probe=dict(corpus.get("probe") or {}),
        )

    def on_data_table_row_highlighted(self, _message: object) -> None:
        """The table's cursor moved: show that codec in the detail pane."""
        self.show_selected()

    def show_selected(self) -> None:
        """Fill the detail pane with the selected codec's folds and verdict from the report."""
        codec = self.table.selected_codec
        result = self.results.get(codec)
        detail = self.query_one(FoldDetail)
        if result is None:
            detail.show(codec, "not in this report", [], None)
            return
        detail.show(codec, result.status, result.folds, result)


