"""``predictor-console``: arguments only. ``--batch`` runs headless; otherwise the console opens."""

from __future__ import annotations

import sys
from collections.abc import Sequence

PROG = "predictor-console"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--batch" in args:
        from trainer.cli import run_headless

        args.remove("--batch")
        return run_headless(args, PROG, f"{PROG} --batch")
    from console.launch import launch_console

    return launch_console(args, PROG)


if __name__ == "__main__":
    sys.exit(main())
