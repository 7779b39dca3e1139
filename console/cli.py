"""``predictor-console``: arguments only. ``--batch`` runs headless; otherwise the console opens."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

PROG = "predictor-console"


def build_console_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """Every option of both faces, from the one option table: mode first, then common, batch-only, console-only."""
    from trainer.run import CONSOLE_FACE, DESCRIPTION, EPILOG, build_parser

    return build_parser(
        prog, CONSOLE_FACE, f"{DESCRIPTION} Opens the operator console; with --batch runs headless (CI).", EPILOG)


def main(argv: Sequence[str] | None = None) -> int:
    """``predictor-console``'s entry point: the headless batch, the read-only review, or the live console;
    returns the exit code.
    """
    from trainer.run import output_dropped_when_gone

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
    from trainer.run import ConfigError, exit_for_exception, refuse_other_face, run_parsed

    try:
        refuse_other_face(args, batch=True)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exit_for_exception(exc)

    return run_parsed(args, args_list, PROG, f"{PROG} --batch")


def review(report_path: Path, with_batch: bool = False) -> int:
    """The read-only review console over a finished report; exit 2 if it cannot be shown."""
    from trainer.run import ReportUnreadable, read_report

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
