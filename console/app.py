"""The operator console: composes the panes and routes messages; the session does the work."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from console.messages import (
    AdviceReady,
    CorpusUpdated,
    EngineEvent,
    LogWritten,
    PlanApplied,
    PlanReady,
    ProbeCounted,
)
from console.screens.advice import AdviceScreen
from console.screens.confirm_plan import ConfirmPlanScreen
from console.screens.confirm_quit import ConfirmQuitScreen
from console.screens.confirm_regression import ConfirmRegressionScreen
from console.session import ConsoleSession
from console.watcher import CorpusWatcher
from console.widgets.codec_panes import CodecPanes
from console.widgets.codec_table import CodecTable
from console.widgets.corpus_pane import CorpusPane
from console.widgets.fold_detail import FoldDetail
from console.widgets.ladder_plot import LadderView
from console.widgets.log_pane import LogPane
from trainer.run import (
    LOSO_FOLD_COUNT,
    SHIP_GATE_MEAN_PLCC,
    SHIP_GATE_PER_FOLD_MIN,
    SHIP_GATE_PLCC_SPREAD_MAX,
    SUPPORTED_CODECS,
    CodecCancelled,
    CodecFinished,
    CodecQueued,
    CodecResult,
    FoldFinished,
    FoldResult,
    PromotionPlan,
    TaskRetried,
)

MIN_SIZE = (100, 28)
WIDE_LAYOUT_MIN_WIDTH = 140  # the codec table's 70 columns plus a detail pane that fits every fold column


class PredictorConsole(App[int]):
    CSS_PATH = "console.tcss"
    # Below the wide layout the table and the side panes share the width and scroll sideways.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_LAYOUT_MIN_WIDTH, "-wide")]
    TITLE = "VMAF predictor console"
    SUB_TITLE = (f"ADR-0303 gate: mean PLCC >= {SHIP_GATE_MEAN_PLCC}, spread <= {SHIP_GATE_PLCC_SPREAD_MAX}, "
                 f"every fold >= {SHIP_GATE_PER_FOLD_MIN}, {LOSO_FOLD_COUNT}-fold LOSO")
    BINDINGS = [
        Binding("t", "train_selected", "Train"),
        Binding("T", "train_all", "Train all"),
        Binding("c", "cancel_selected", "Cancel"),
        Binding("r", "retry", "Retry errors"),
        Binding("a", "toggle_auto", "Auto-train"),
        Binding("p", "promote", "Promote…"),
        Binding("left_square_bracket", "ladder(-1)", "Prev ladder", key_display="["),
        Binding("right_square_bracket", "ladder(1)", "Next ladder", key_display="]"),
        Binding("v", "advise", "Advice"),
        Binding("q", "quit_console", "Quit"),
    ]

    def __init__(self, session_factory: Callable[[Callable], ConsoleSession], debounce_s: float = 0.5,
                 auto_train: bool = True) -> None:
        super().__init__()
        self.session = session_factory(self.post_message)
        self.auto_train = auto_train
        self.debounce_s = debounce_s
        self.watcher: CorpusWatcher | None = None
        self.folds: dict[str, list[FoldResult]] = {c: [] for c in SUPPORTED_CODECS}
        # Codecs queued since their last verdict the UI showed: their old verdict is hidden until the new one lands.
        self._rejudging: set[str] = set()
        self.rows: dict[str, int] = {c: 0 for c in SUPPORTED_CODECS}
        self.advice: dict[str, dict[str, object]] = {}  # per codec, for the verdict it was computed on

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        """The header, the small-terminal notice, the codec panes (table, detail, corpus) and the log."""
        yield Header()
        yield Static(id="too-small")
        yield CodecPanes(id="main")
        yield LogPane(id="log")
        yield Footer()

    @property
    def results(self) -> dict[str, CodecResult]:
        """The verdicts on screen, read from the session (the app keeps no copy of its own); a codec queued
        again shows none until its new verdict has reached the UI."""
        return {codec: result for codec, result in self.session.results().items() if codec not in self._rejudging}

    @property
    def table(self) -> CodecTable:
        """The codec table: its highlighted row is the codec every action applies to."""
        return self.query_one(CodecTable)

    def _widgets_ready(self) -> bool:
        """False once any pane is gone: background messages can still arrive during shutdown, and the
        panes are removed one by one (the table can outlive the corpus pane a message is for)."""
        try:
            for pane in (CodecTable, CorpusPane, LogPane, FoldDetail):
                self.query_one(pane)
        except NoMatches:
            return False
        return True

    def on_mount(self) -> None:
        """Title the panes, start the session, then read the corpus and watch it for changes.

        With a Dask cluster the executor line is polled every 2 s, since its workers come and go.
        """
        self.table.border_title = "codecs  (auto-train on)" if self.auto_train else "codecs  (auto-train off)"
        self.query_one("#detail").border_title = "selected codec"
        self.query_one("#corpus").border_title = "corpus"
        self.query_one("#log").border_title = "log"
        self.session.start()
        self.initial_scan()
        config = self.session.config
        self.watcher = CorpusWatcher(config.corpus_roots, config.corpus_files, self.on_files_changed,
                                     debounce_s=self.debounce_s)
        self.watcher.start()
        self.table.focus()
        self.show_selected()
        self.show_executor()
        if self.session.cluster is not None:
            self.set_interval(2.0, self.show_executor)  # workers come and go; keep the line current

    def show_executor(self) -> None:
        """Show where training runs now (the executor's status) under the corpus pane."""
        self.query_one("#corpus").border_subtitle = self.session.executor_status()

    def on_resize(self) -> None:
        """Show the notice docked at the top while the terminal is smaller than ``MIN_SIZE``."""
        small = self.size.width < MIN_SIZE[0] or self.size.height < MIN_SIZE[1]
        notice = self.query_one("#too-small", Static)
        notice.update(f"Terminal is {self.size.width}x{self.size.height}; the console needs at least "
                      f"{MIN_SIZE[0]}x{MIN_SIZE[1]} to show every pane.")
        notice.set_class(small, "visible")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette: Textual's own commands, then each key binding, so every action can be
        found by name as well as by key.
        """
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            yield SystemCommand(f"{binding.description} [{binding.key}]", f"Same as pressing {binding.key}",
                                lambda action=binding.action: self.run_action(action))

    # -- corpus ------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="scan")
    def initial_scan(self) -> None:
        """Read every corpus file once, off the UI thread; the result arrives as ``CorpusUpdated``."""
        self.post_message(self.session.scan())

    def on_files_changed(self, paths: set[str]) -> None:
        """Called on the watcher's debounce thread once per quiet period."""
        self.post_message(self.session.refresh(paths))

    def on_corpus_updated(self, message: CorpusUpdated) -> None:
        """New row counts: update the table and corpus pane, then retrain the codecs whose rows changed
        (on the first scan, every codec with rows), or mark them stale when auto-train is off.
        """
        if not self._widgets_ready():
            return
        stats = message.stats
        for codec in SUPPORTED_CODECS:
            self.rows[codec] = stats.rows_per_codec[codec]
            self.table.set_counts(codec, stats.rows_per_codec[codec], stats.sources_per_codec[codec])
        self.query_one(CorpusPane).show(stats)
        changed = message.changed_codecs
        if message.initial:
            changed = {c for c in SUPPORTED_CODECS if stats.rows_per_codec[c]}
        for codec in sorted(changed, key=SUPPORTED_CODECS.index):
            if self.auto_train:
                self.queue(codec)
            else:
                self.table.set_state(codec, "stale")
        self.show_selected()

    def on_probe_counted(self, message: ProbeCounted) -> None:
        """Show the corpus's probe counts, counted once the corpus was built for a training table."""
        if self._widgets_ready():
            self.query_one(CorpusPane).show_probe(message.counts)

    # -- training ----------------------------------------------------------------------------
    def queue(self, codec: str) -> None:
        """Queue ``codec`` for training: its old folds, verdict and advice are hidden until the new verdict."""
        self.folds[codec] = []
        self._rejudging.add(codec)
        self.advice.pop(codec, None)
        self.table.set_state(codec, "queued")
        self.session.queue(codec)

    def on_engine_event(self, message: EngineEvent) -> None:
        """Follow the engine's progress in the table: training k/n, verdicts, cancels and retries."""
        if not self._widgets_ready():
            return
        event = message.event
        if isinstance(event, CodecQueued):
            self.folds[event.codec] = []
            self.table.set_state(event.codec, f"training 0/{event.n_folds}")
        elif isinstance(event, FoldFinished):
            codec = event.result.codec
            self.folds[codec].append(event.result)
            self.table.set_state(codec, f"training {event.folds_done}/{event.folds_total}")
        elif isinstance(event, CodecFinished):
            self._rejudging.discard(event.result.codec)
            self.table.set_result(event.result.codec, event.result)
        elif isinstance(event, CodecCancelled):
            self.table.set_state(event.codec, "idle")
        elif isinstance(event, TaskRetried) and self.table.state_of(event.codec).startswith("training"):
            self.table.set_state(event.codec, f"retrying ({event.reason})")  # until its next fold or verdict
        self.show_selected()

    def on_log_written(self, message: LogWritten) -> None:
        """Append a run-log line to the log pane."""
        if not self._widgets_ready():
            return
        self.query_one(LogPane).write(message.text)

    def on_data_table_row_highlighted(self, _message: object) -> None:
        """The table's cursor moved: show that codec in the detail pane."""
        self.show_selected()

    def show_selected(self) -> None:
        """Fill the detail pane for the selected codec: its state, folds so far and verdict on screen."""
        codec = self.table.selected_codec
        self.query_one(FoldDetail).show(codec, self.table.state_of(codec), self.folds[codec], self.results.get(codec))

    def action_train_selected(self) -> None:
        """``t``: queue the selected codec on the corpus as it is when its turn comes."""
        self.queue(self.table.selected_codec)

    def action_train_all(self) -> None:
        """``T``: queue every supported codec."""
        for codec in SUPPORTED_CODECS:
            self.queue(codec)

    def action_cancel_selected(self) -> None:
        """``c``: drop the selected codec's queued work (tasks already running finish and are discarded)."""
        codec = self.table.selected_codec
        if not self.session.cancel(codec):
            self.notify(f"{codec}: nothing queued or running", markup=False)

    def action_retry(self) -> None:
        """``r``: queue again every codec whose verdict is an error, else the selected codec."""
        failed = [c for c, r in self.results.items() if r.status == "error"]
        for codec in failed or [self.table.selected_codec]:
            self.queue(codec)

    def action_toggle_auto(self) -> None:
        """``a``: switch auto-train; off, codecs whose rows change are marked stale instead of retrained."""
        self.auto_train = not self.auto_train
        self.table.border_title = f"codecs  (auto-train {'on' if self.auto_train else 'off'})"
        self.notify(f"auto-train {'on: changed codecs retrain' if self.auto_train else 'off: changed codecs go stale'}")

    def action_ladder(self, delta: int) -> None:
        """Step through the selected codec's held-out ladders in the detail pane."""
        if not self.query_one(LadderView).step(delta):
            self.notify(f"{self.table.selected_codec}: no other held-out ladder to show", markup=False)

    # -- advice ------------------------------------------------------------------------------
    def action_advise(self) -> None:
        """``v``: open the advice view for the selected codec's trained verdict, computing it if not yet done."""
        codec = self.table.selected_codec
        result = self.results.get(codec)
        if result is None or result.status not in ("pass", "fail"):
            self.notify(f"{codec}: no trained verdict to advise on: train it first", severity="warning", markup=False)
            return
        self.push_screen(AdviceScreen(codec, self.advice.get(codec)))
        if codec not in self.advice:
            self.compute_advice(codec)

    @work(thread=True, group="advice")
    def compute_advice(self, codec: str) -> None:
        """Run the data advisor off the UI thread; its advice (or the error) arrives as ``AdviceReady``."""
        try:
            self.post_message(AdviceReady(codec, self.session.advise(codec)))
        except Exception as exc:  # shown to the operator, never swallowed
            self.post_message(AdviceReady(codec, None, f"{type(exc).__name__}: {exc}"))

    def on_advice_ready(self, message: AdviceReady) -> None:
        """Keep the advice for its verdict and show it, if the advice view for that codec is still open."""
        if message.advice is not None and message.codec in self.results:
            self.advice[message.codec] = message.advice
        screen = self.screen
        if isinstance(screen, AdviceScreen) and screen.codec == message.codec:
            screen.show(message.advice, message.error)

    # -- promotion ---------------------------------------------------------------------------
    def action_promote(self) -> None:
        """``p``: retrain the passing codecs on their full corpus and build the promotion plan to confirm."""
        if not self.results:
            self.notify("No verdicts yet: train first", severity="warning")
            return
        self.notify("Retraining passing codecs on their full corpus and building the plan…")
        self.build_plan()

    @work(thread=True, exclusive=True, group="promote")
    def build_plan(self, allow_regression: frozenset[str] = frozenset()) -> None:
        """Build the promotion plan off the UI thread (``allow_regression``: codecs the operator allowed
        to ship below the incumbent); the plan, or the error, arrives as ``PlanReady``.
        """
        try:
            plan = self.session.plan(allow_regression)
            self.post_message(PlanReady(plan, regressions_allowed=bool(allow_regression)))
        except Exception as exc:  # shown to the operator, never swallowed
            self.post_message(PlanReady(None, f"{type(exc).__name__}: {exc}"))

    def on_plan_ready(self, message: PlanReady) -> None:
        """A plan with regressions asks a second time first; otherwise ask to confirm its file changes."""
        if not self._widgets_ready():
            return
        if message.plan is None:
            self.notify(f"Could not build the plan: {message.error}", severity="error", markup=False)
            return
        plan = message.plan
        if plan.regressions and not message.regressions_allowed:
            self.push_screen(ConfirmRegressionScreen(plan.regressions),
                             lambda allowed: self.regressions_decided(plan, bool(allowed)))
            return
        self.confirm_plan(plan)

    def regressions_decided(self, plan: PromotionPlan, allowed: bool) -> None:
        """The second confirmation's answer: plan again with the regressions allowed, or keep them blocked."""
        if allowed:
            self.session.log.line(f"operator allowed worse-than-incumbent promotion of {', '.join(plan.regressions)}")
            self.build_plan(frozenset(plan.regressions))
        else:
            self.confirm_plan(plan)

    def confirm_plan(self, plan: PromotionPlan) -> None:
        """Show the plan file by file; a yes applies it, anything else writes nothing (and says so in the log)."""

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self.apply_plan(plan)
            else:
                self.notify("Cancelled: nothing was written")
                self.session.log.line("promotion cancelled by the operator; nothing written")

        self.push_screen(ConfirmPlanScreen(plan), decided)

    @work(thread=True, exclusive=True, group="promote")
    def apply_plan(self, plan: PromotionPlan) -> None:
        """Apply the confirmed plan off the UI thread; what was written, or the error, arrives as ``PlanApplied``."""
        try:
            applied = self.session.apply(plan)
            self.post_message(PlanApplied([c.path for c in plan.changes], str(applied["backup"])))
        except Exception as exc:
            self.post_message(PlanApplied([], None, f"{type(exc).__name__}: {exc}"))

    def on_plan_applied(self, message: PlanApplied) -> None:
        """Tell the operator what was written and where the backup is, or why nothing was."""
        if not self._widgets_ready():
            return
        if message.error:
            self.notify(f"Nothing written: {message.error}", severity="error", markup=False)
            return
        self.notify(f"Wrote {len(message.written)} file(s); backup in {message.backup}", markup=False)

    # -- quitting ----------------------------------------------------------------------------
    def action_quit_console(self) -> None:
        """``q``: quit at once when idle; while training runs, ask first (quitting stops it)."""
        if not self.session.busy():
            self.exit(0)
            return
        active = sorted(self.session.active_codecs(), key=SUPPORTED_CODECS.index)

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self.exit(0)

        self.push_screen(ConfirmQuitScreen(active), decided)

    def on_unmount(self) -> None:
        """Stop the corpus watcher and the session (its engine and workers) as the app closes."""
        if self.watcher is not None:
            self.watcher.stop()
        self.session.stop()
