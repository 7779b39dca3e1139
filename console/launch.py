"""Start the console: resolve the same options as --batch, start the pool, then hand over to Textual."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trainer.executors.dask_cluster import ClusterUnavailable, connect
from trainer.executors.dask_executor import DaskExecutor
from trainer.executors.process_pool import process_pool_factory
from trainer.run.config import ConfigError, resolve_config


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
        return 2
    from console.app import PredictorConsole
    from console.session import ConsoleSession

    cluster = None
    factory = process_pool_factory(config.workers)
    if config.scheduler:
        # Connected before app.run(): LocalCluster spawns processes, which fails once Textual owns stderr.
        try:
            cluster = connect(config.scheduler, config.scheduler_timeout_s)
        except ClusterUnavailable as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 2
        factory = lambda: DaskExecutor(cluster)  # noqa: E731
    app = PredictorConsole(lambda post: ConsoleSession(config, post, factory, cluster), debounce_s=args.debounce,
                           auto_train=not args.no_auto_train)
    try:
        result = app.run()
    finally:
        if cluster is not None:
            cluster.close()
    return int(result or 0)
