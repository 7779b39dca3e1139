"""Start the console: resolve the same options as --batch, wire the executor, then hand over to Textual."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from console.hangup import HangupDriver, TerminalWatch
from trainer.run import EXPECTED_ERRORS, SIGNAL_BASE, ConfigError, exit_for_exception, refuse_other_face, resolve_config

if TYPE_CHECKING:
    from console.app import PredictorConsole

HANGUP_EXIT = SIGNAL_BASE + signal.SIGHUP  # as the batch stopped by SIGHUP: the terminal went away


def launch_console(args: argparse.Namespace, argv: Sequence[str], prog: str) -> int:
    """Run the console to its end and return the process's exit code (2 for a configuration error)."""
    try:
        # Batch-only flags are refused here; their environment variables (ALLOW_REGRESSION=1, JUNIT_XML, ...)
        # are ignored: the console asks a second time before a regression, and writes no CI outputs.
        refuse_other_face(args, batch=False)
        config = resolve_config(args, argv=[prog, *argv])
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exit_for_exception(exc)
    from console.app import PredictorConsole
    from console.session import ConsoleSession
    from trainer.run import open_wiring

    # Wired before app.run(): LocalCluster spawns processes and the pool starts its helpers, which
    # fails once Textual owns stderr. An unreachable scheduler is exit 2 here.
    try:
        wiring = open_wiring(config)
    except EXPECTED_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exit_for_exception(exc)
    try:
        app = PredictorConsole(lambda post: ConsoleSession(config, post, wiring), debounce_s=config.debounce_s,
                               auto_train=config.auto_train)
    except BaseException:
        wiring.close()
        raise
    app.driver_class = HangupDriver
    # From here until the workers are stopped, a hang-up (SIGHUP, even if inherited as ignored, or a
    # terminal that reads EOF / fails with EIO) is the same clean end as quitting, with exit 129.
    with TerminalWatch(lambda reason: _hang_up(app, reason), ready=lambda: app.is_running):
        try:
            result = app.run()
        finally:
            wiring.close()
    return int(result or 0)


def _hang_up(app: PredictorConsole, reason: str) -> None:
    """Called from the watch's thread: the log says why, and the app ends as on quit (App.exit is thread-safe)."""
    app.session.log.line(f"console: {reason}: stopping (running and queued training end), exit {HANGUP_EXIT}")
    app.exit(HANGUP_EXIT)
