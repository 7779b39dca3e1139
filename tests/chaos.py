"""Fault injection for the chaos suite: a batch run, one ``kill -9`` at a seeded random moment.

Each run is replayable: its victim kind and moment come from ``random.Random(f"{seed}-{backend}-{index}")``
(``CHAOS_SEED``, default 28), scaled by the clean run's length (``CHAOS_CLEAN_SECONDS`` pins it), and
are printed before the run starts.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import write_corpus
from tests.test_faults import REPO, _session_processes, _wait_gone

CHAOS_SEED = int(os.environ.get("CHAOS_SEED", "28"))
# Small, quick, and with a codec that passes, so the full-corpus retrain and promotion plan run too.
PLAN = {"libx264": (6, 30, 0.2), "libx265": (6, 20, 0.5), "h264_amf": (6, 20, 4.0)}
EPOCHS = 120
PLCC_TOLERANCE = 1e-3
POOL_VICTIMS = ("worker", "fork server")
DASK_VICTIMS = ("dask worker",)


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    report: dict | None
    seconds: float
    left: list[int]
    killed: str = "nothing"
    notes: list[str] = field(default_factory=list)

    def report_reasons(self, codec: str) -> list[str]:
        return next((c.get("failure_reasons", []) for c in (self.report or {}).get("codecs", [])
                     if c["codec"] == codec), [])


def batch_argv(tmp_path: Path, *extra: str) -> tuple[list[str], Path]:
    corpus = write_corpus(tmp_path / "corpus.jsonl", PLAN)
    out = tmp_path / "runs"
    return ([sys.executable, "-m", "trainer", "--corpus", str(corpus), "--out-dir", str(out), "--model-dir",
             str(tmp_path / "model"), "--epochs", str(EPOCHS), *(f"--codec={c}" for c in PLAN), *extra], out)


def clean_scale(measured: float) -> float:
    """The clean run's length the moments are drawn over: measured, or ``CHAOS_CLEAN_SECONDS``."""
    return float(os.environ.get("CHAOS_CLEAN_SECONDS", measured))


def plan_for(backend: str, index: int, clean_seconds: float) -> tuple[str, float]:
    """(victim kind, seconds after the batch starts): any moment from start-up to the promotion plan,
    the end of a clean run (measured, or ``CHAOS_CLEAN_SECONDS`` to replay a printed run exactly)."""
    rng = random.Random(f"{CHAOS_SEED}-{backend}-{index}")
    victims = POOL_VICTIMS if backend == "pool" else DASK_VICTIMS
    return rng.choice(victims), round(rng.uniform(0.0, clean_seconds), 2)


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return [int(c) for t in tasks for c in (t / "children").read_text().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def pool_victims(batch_pid: int, kind: str) -> list[int]:
    servers = [p for p in _children(batch_pid) if b"forkserver" in _cmdline(p)]
    if kind == "fork server":
        return servers
    return [w for s in servers for w in _children(s)]


def dask_victims(nannies: list[int]) -> list[int]:
    return [w for n in nannies for w in _children(n) if b"spawn_main" in _cmdline(w)]


def run_with_kill(argv: list[str], out: Path, moment: float | None, find_victims, rng_pick: random.Random,
                  timeout: float = 300) -> Outcome:
    """Run the batch; at ``moment`` s kill -9 one process ``find_victims(batch_pid)`` names (if any
    exists then; else the first that appears before the batch ends)."""
    start = time.monotonic()
    # PYTHONFAULTHANDLER: a run that outlives ``timeout`` is sent SIGABRT, so the failure shows where every
    # thread of the batch was waiting instead of a bare TimeoutExpired (seen once in a full suite, 2026-12-08).
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"})
    killed = "nothing"
    try:
        if moment is not None:
            while proc.poll() is None and time.monotonic() - start < moment:
                time.sleep(0.01)
            while proc.poll() is None:
                candidates = sorted(find_victims(proc.pid))
                if candidates:
                    victim = rng_pick.choice(candidates)
                    os.kill(victim, signal.SIGKILL)
                    killed = f"pid {victim} at {time.monotonic() - start:.2f} s"
                    break
                time.sleep(0.01)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGABRT)  # faulthandler dumps every thread's stack to stderr
            stdout, stderr = proc.communicate(timeout=30)
            raise AssertionError(f"the batch did not end within {timeout:.0f} s (killed {killed}); its threads:\n"
                                 f"{stderr[-6000:]}\n--- its output:\n{stdout[-3000:]}") from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    seconds = time.monotonic() - start
    left = _wait_gone(proc.pid, 10)
    report_path = out / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return Outcome(proc.returncode, stdout, stderr, report, seconds, left, killed)


def verdicts(report: dict) -> dict[str, tuple[str, list[float | None]]]:
    return {c["codec"]: (c["status"], [f.get("plcc") for f in c.get("folds", [])]) for c in report["codecs"]}


def check(outcome: Outcome, clean: dict[str, tuple[str, list[float | None]]], label: str) -> list[str]:
    """What is wrong with a chaos run, as lines (empty: it passed)."""
    problems = []
    if outcome.returncode not in (0, 1):
        problems.append(f"exit {outcome.returncode}: {outcome.stderr.strip()[-600:]}")
    if "Traceback" in outcome.stdout + outcome.stderr:
        problems.append("a traceback on the terminal")
    if outcome.report is None:
        problems.append("no report written")
    if outcome.left:
        problems.append(f"processes left: {outcome.left}")
    for codec, (status, plccs) in (verdicts(outcome.report) if outcome.report else {}).items():
        if status == "error":  # allowed by the fault model, yet one kill is within every retry budget
            problems.append(f"{codec}: error after a single kill: {outcome.report_reasons(codec)}")
            continue
        clean_status, clean_plccs = clean[codec]
        if status != clean_status:
            problems.append(f"{codec}: {status}, clean run {clean_status}")
        elif len(plccs) != len(clean_plccs) or any(a is None or b is None or abs(a - b) > PLCC_TOLERANCE
                                                   for a, b in zip(plccs, clean_plccs, strict=False)):
            problems.append(f"{codec}: fold PLCC {plccs} vs clean {clean_plccs}")
    return [f"{label}: {p}" for p in problems]


def leftover_session(pid: int) -> list[int]:
    return _session_processes(pid)
