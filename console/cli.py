"""``predictor-console``: arguments only. ``--batch`` runs headless; otherwise the console opens."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

PROG = "predictor-console"
DEFAULT_DEBOUNCE_S = 0.5


def build_console_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """Every option of both faces, grouped: --batch first, then common, batch-only, console-only."""
    from trainer.core.version import PrintVersion
    from trainer.run.cli import DESCRIPTION, EPILOG
    from trainer.run.config import add_run_arguments

    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"{DESCRIPTION} Opens the operator console; with --batch runs headless (CI).",
        epilog=EPILOG,
    )
    mode = parser.add_argument_group("mode")
    mode.add_argument("--batch", action="store_true",
                      help="run headless: plain output, report + log files, exit code 0 iff every codec passes")
    mode.add_argument("--version", action=PrintVersion)
    mode.add_argument("--review", metavar="REPORT", type=Path,
                      help="open a finished report.json read-only (no training, no watcher, nothing written)")
    add_run_arguments(parser)
    console = parser.add_argument_group("console only")
    console.add_argument("--debounce", type=float, default=DEFAULT_DEBOUNCE_S, metavar="SECONDS",
                         help=f"quiet period before changed corpus files are re-read (default {DEFAULT_DEBOUNCE_S})")
    console.add_argument("--no-auto-train", action="store_true", help="start with auto-train off")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from trainer.core.streams import output_dropped_when_gone

    args_list = list(sys.argv[1:] if argv is None else argv)
    with output_dropped_when_gone():  # --version | head -1; --batch in a terminal that closes
        args = build_console_parser().parse_args(args_list)
        if args.batch and args.review is None:
            return batch(args, args_list)
    if args.review is not None:  # Textual drives the real terminal itself
        return review(args.review, with_batch=args.batch)
    from console.launch import launch_console

    return launch_console(args, args_list, PROG)


def batch(args: argparse.Namespace, args_list: list[str]) -> int:
    """``--batch``: headless, through the same code as ``python -m trainer``."""
    console_only = [flag for flag, on in (("--debounce", args.debounce != DEFAULT_DEBOUNCE_S),
                                          ("--no-auto-train", args.no_auto_train)) if on]
    if console_only:
        print(f"{PROG}: error: {', '.join(console_only)} only apply to the console, not --batch", file=sys.stderr)
        return 2
    from trainer.run.cli import run_parsed

    return run_parsed(args, args_list, PROG, f"{PROG} --batch")


def review(report_path: Path, with_batch: bool = False) -> int:
    """The read-only review console over a finished report; exit 2 if it cannot be shown."""
    from trainer.outputs.report_reader import ReportUnreadable, read_report

    if with_batch:
        print(f"{PROG}: error: --review opens the console; it does not combine with --batch", file=sys.stderr)
        return 2
    try:
        report = read_report(report_path)
    except ReportUnreadable as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    from console.review_app import ReviewConsole

    ReviewConsole(report, report_path).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
