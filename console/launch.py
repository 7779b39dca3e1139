"""Start the console: resolve the same options as --batch, wire the executor, then hand over to Textual."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trainer.run.config import ConfigError, resolve_config
from trainer.run.exits import EXPECTED_ERRORS, exit_for_exception


def launch_console(args: argparse.Namespace, argv: Sequence[str], prog: str) -> int:
    try:
        config = resolve_config(args, argv=[prog, *argv])
        # --allow-regression too (the flag; ALLOW_REGRESSION=1 is ignored here): the console asks a second time.
        batch_only = [flag for flag, on in (("--synthetic-smoke", config.synthetic_smoke), ("--yes", config.yes),
                                            ("--restore", bool(config.restore)), ("--write-stubs", config.write_stubs),
                                            ("--allow-regression", args.allow_regression),
                                            ("--advise", getattr(args, "advise", False)))
                      if on]
        if batch_only:
            raise ConfigError(f"{', '.join(batch_only)} only apply with --batch (the console asks before it writes, "
                              "and shows advice on request)")
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exit_for_exception(exc)
    from console.app import PredictorConsole
    from console.session import ConsoleSession
    from trainer.run.service import open_wiring

    # Wired before app.run(): LocalCluster spawns processes and the pool starts its helpers, which
    # fails once Textual owns stderr. An unreachable scheduler is exit 2 here.
    try:
        wiring = open_wiring(config)
    except EXPECTED_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exit_for_exception(exc)
    try:
        app = PredictorConsole(lambda post: ConsoleSession(config, post, wiring), debounce_s=args.debounce,
                               auto_train=not args.no_auto_train)
        result = app.run()
    finally:
        wiring.close()
    return int(result or 0)
