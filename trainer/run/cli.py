"""``python -m trainer``: the direct trainer, same options as ``predictor-console --batch``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from trainer.core.streams import output_dropped_when_gone
from trainer.run import options
from trainer.run.batch import run_batch
from trainer.run.config import resolve_config
from trainer.run.errors import InternalError
from trainer.run.exits import EPILOG, EXPECTED_ERRORS, exit_for_exception

DESCRIPTION = options.DESCRIPTION


def build_parser(prog: str) -> argparse.ArgumentParser:
    """``python -m trainer``'s parser: the option table's batch face (no mode group, no console-only options)."""
    return options.build_parser(prog, options.BATCH, DESCRIPTION, EPILOG)


def run_headless(argv: Sequence[str], prog: str, entrypoint: str) -> int:
    return run_parsed(build_parser(prog).parse_args(list(argv)), argv, prog, entrypoint)


def run_parsed(args: argparse.Namespace, argv: Sequence[str], prog: str, entrypoint: str) -> int:
    """The batch on already-parsed options; every expected failure is one line and exit 2.

    Anything else is an internal error: one line and exit 70, never a bare traceback (which would
    end in exit 1, the code of a failed gate). The traceback goes to the run log, or to a crash file
    when the run never got as far as opening one.
    """
    try:
        config = resolve_config(args, argv=[prog, *argv])
        return run_batch(config, entrypoint)
    except EXPECTED_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exit_for_exception(exc)
    except KeyboardInterrupt as exc:  # Ctrl-C before the batch's own handlers were in place
        print(f"{prog}: interrupted by SIGINT", file=sys.stderr)
        return exit_for_exception(exc)
    except InternalError as exc:  # report and log already written
        print(f"{prog}: internal error: {exc}", file=sys.stderr)
        return exit_for_exception(exc)
    except Exception as exc:
        print(f"{prog}: internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
              f"{_crash_file(exc)}", file=sys.stderr)
        return exit_for_exception(exc)


def _crash_file(exc: BaseException) -> str:
    """Write the traceback of an error raised before the run log existed; the note naming it."""
    path = Path(tempfile.gettempdir()) / f"predictor-crash-{os.getpid()}.log"
    try:
        path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    except OSError:
        return ""
    return f"; traceback in {path}"


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    with output_dropped_when_gone():  # a closed terminal or ``| head`` never stops the run or its report
        return run_headless(args, "python -m trainer", "python -m trainer")
