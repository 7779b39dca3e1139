"""Start the pool's fork server before the batch's own imports, so its torch import runs beside them.

On a small corpus the fork server importing torch is the longest wait of a run; started first
thing, it overlaps this process's imports and checks instead of following them. A guess from
argv: where the run will not use the local pool (a Dask scheduler, help, version, review,
restore, stub writing) nothing starts early; a wrong guess costs at most a fork server that exits
with the run, and where none started the run starts it as before (wiring.wire_executor).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

NO_POOL_FLAGS = ("-h", "--help", "--version", "--review", "--restore", "--write-stubs", "--scheduler")


def will_use_local_pool(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> bool:
    """Whether a batch with these arguments trains on the local process pool (a guess; see the module)."""
    environ = os.environ if environ is None else environ
    if environ.get("DASK_SCHEDULER_ADDRESS", "").strip():
        return False
    return not any(arg == flag or arg.startswith(flag + "=") for arg in argv for flag in NO_POOL_FLAGS)


def start_fork_server_early(argv: Sequence[str]) -> None:
    if will_use_local_pool(argv):
        from trainer.executors.process_pool import start_pool_helpers

        start_pool_helpers()
