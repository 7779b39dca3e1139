"""Stop before the kernel does: the memory a run may have, learnt from its cgroup or the machine, and a watch on it.

The kernel's OOM killer ends a run with SIGKILL, which no handler sees: no report, no log line. This guard
samples what the run uses against the tightest limit it is under (its cgroup's, its address-space rlimit, or
the machine's memory) and, past ``STOP_FRACTION`` of it, asks the run to stop the way a signal would: the
workers end, the verdicts reached so far go into the report, and the run exits 2 naming the stage.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

STOP_FRACTION = 0.90  # of the limit: the rest is the margin a stage may still take between two samples
POLL_SECONDS = 0.25
NO_LIMIT = 1 << 60  # cgroup v1 reports "no limit" as a number near 2^63


@dataclass(frozen=True)
class MemoryLimit:
    """One limit the run is under, and how to measure what counts against it (bytes)."""

    limit: int
    source: str
    usage: Callable[[], int]


def tree_pids(root: int) -> list[int]:
    """``root`` and every descendant (the fork server, pool workers, a local Dask cluster's processes)."""
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                stack.extend(int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
        except OSError:
            continue
    return pids


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_rss(root: int | None = None) -> int:
    return sum(_status_kb(pid, "VmRSS:") for pid in tree_pids(os.getpid() if root is None else root))


def _largest_address_space() -> int:
    """RLIMIT_AS binds each process alone: the largest virtual size in the tree is what nears it."""
    return max((_status_kb(pid, "VmSize:") for pid in tree_pids(os.getpid())), default=0)


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return None if text in ("", "max") else int(text) if text.isdigit() else None


def _usage_reader(path: Path) -> Callable[[], int]:
    """A reader bound to one cgroup's usage counter (0 where it cannot be read), made per limit so each
    closure keeps its own path."""
    return lambda: _read_int(path) or 0


def cgroup_limits(proc_cgroup: Path = Path("/proc/self/cgroup"),
                  root: Path = Path("/sys/fs/cgroup")) -> list[MemoryLimit]:
    """The memory limits of this process's cgroups, v2 (``memory.max``) and v1 (``memory.limit_in_bytes``),
    each with that cgroup's own usage counter, which is what its OOM killer judges."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return []
    found: list[MemoryLimit] = []
    for line in lines:
        _hierarchy, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":  # v2: one unified hierarchy, mounted at root or root/unified
            candidates = [(root / relative, "memory.max", "memory.current"),
                          (root / "unified" / relative, "memory.max", "memory.current")]
        elif "memory" in controllers.split(","):
            candidates = [(root / "memory" / relative, "memory.limit_in_bytes", "memory.usage_in_bytes")]
        else:
            continue
        for directory, limit_file, usage_file in candidates:
            limit = _read_int(directory / limit_file)
            if limit is not None and limit < NO_LIMIT and (directory / usage_file).exists():
                found.append(MemoryLimit(limit, f"cgroup {directory / limit_file}",
                                         _usage_reader(directory / usage_file)))
                break
    return found


def machine_memory() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return NO_LIMIT


def memory_limits() -> list[MemoryLimit]:
    """Every limit this run is under: its cgroups', its address-space rlimit, the machine's memory."""
    limits = cgroup_limits()
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(MemoryLimit(soft, "RLIMIT_AS (ulimit -v) of each process", _largest_address_space))
    with contextlib.suppress(OSError):
        limits.append(MemoryLimit(machine_memory(), "the machine's memory (MemTotal)", tree_rss))
    return limits


def gigabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e9:.2f} GB"


class MemoryGuard:
    """A daemon thread that calls ``on_exceeded(message)`` once, when usage passes STOP_FRACTION of a limit.

    ``stage()`` names what the run is doing for that message (stage and size), so the operator learns which
    part of the run needed more than it could have.
    """

    def __init__(self, on_exceeded: Callable[[str], None], stage: Callable[[], str],
                 limits: list[MemoryLimit] | None = None, poll_s: float = POLL_SECONDS) -> None:
        self.limits = memory_limits() if limits is None else limits
        self._on_exceeded, self._stage, self._poll_s = on_exceeded, stage, poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="memory-guard", daemon=True)
        self.peak = 0  # of the tightest limit's usage, bytes

    def __enter__(self) -> MemoryGuard:
        if self.limits:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def check(self) -> str | None:
        """The message for a limit nearly reached, else None."""
        for limit in self.limits:
            used = limit.usage()
            self.peak = max(self.peak, used)
            if used > STOP_FRACTION * limit.limit:
                return (f"out of memory: {self._stage()} used {gigabytes(used)} of the {gigabytes(limit.limit)} "
                        f"allowed by {limit.source}; stopped at {STOP_FRACTION:.0%} before the kernel would kill "
                        "the run (give it more memory, or fewer rows or codecs at once)")
        return None

    def _watch(self) -> None:
        while not self._stop.wait(self._poll_s):
            message = self.check()
            if message is not None:
                self._on_exceeded(message)
                return
