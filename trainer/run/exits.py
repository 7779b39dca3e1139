"""Every exit code in one place: from a run's outcome, and from the exception that ended it.

Both faces (``python -m trainer`` / ``predictor-console --batch``, and the console's launcher)
ask here; nothing else decides a code. A new typed failure is one line in ``EXCEPTION_EXITS``.
"""

from __future__ import annotations

import signal

from trainer.core.atomic import OutputUnwritable
from trainer.executors.dask_cluster import ClusterUnavailable
from trainer.run.errors import ConfigError, InternalError, OutOfMemory
from trainer.shipping.lock import ModelDirLocked, PromotionError

EXIT_OK = 0  # every selected codec passed
EXIT_NOT_ALL_PASS = 1  # at least one did not
EXIT_CONFIG = 2  # usage, configuration or environment
EXIT_INTERNAL = 70  # EX_SOFTWARE (sysexits.h): a bug, never confused with a failed gate (1)
SIGNAL_BASE = 128  # 128 + N: stopped by signal N

# Exception type -> exit code; the first entry the exception is an instance of wins.
EXCEPTION_EXITS: tuple[tuple[type[BaseException], int], ...] = (
    (ConfigError, EXIT_CONFIG),
    (OutputUnwritable, EXIT_CONFIG),
    (ModelDirLocked, EXIT_CONFIG),
    (PromotionError, EXIT_CONFIG),
    (ClusterUnavailable, EXIT_CONFIG),
    (OutOfMemory, EXIT_CONFIG),
    (MemoryError, EXIT_CONFIG),
    (KeyboardInterrupt, SIGNAL_BASE + signal.SIGINT),
    (InternalError, EXIT_INTERNAL),
)
# The failures a run reports in one line and exit 2 (not a bug): derived from the table.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = tuple(t for t, code in EXCEPTION_EXITS if code == EXIT_CONFIG)

EPILOG = ("exit codes: 0 every selected codec passed; 1 at least one did not; 2 usage, configuration or "
          "environment error; 70 internal error (a bug: report.json still written, traceback in the run log); "
          "128+N stopped by signal N (129 SIGHUP, 130 SIGINT, 143 SIGTERM)")


def exit_for_exception(exc: BaseException) -> int:
    """The code for a run ended by ``exc``; anything not in the table is an internal error."""
    for kind, code in EXCEPTION_EXITS:
        if isinstance(exc, kind):
            return code
    return EXIT_INTERNAL


def exit_for_outcome(n_pass: int, n_selected: int, *, promotion_failed: bool = False,
                     signal_exit: int | None = None, internal_error: bool = False) -> int:
    """The code for a run that finished its report: the gravest of what happened wins.

    internal error (70) > stopped by a signal (128+N) > promotion not applied (2) > the gate (0/1).
    """
    if internal_error:
        return EXIT_INTERNAL
    if signal_exit is not None:
        return signal_exit
    if promotion_failed:
        return EXIT_CONFIG
    return EXIT_OK if n_selected and n_pass == n_selected else EXIT_NOT_ALL_PASS
