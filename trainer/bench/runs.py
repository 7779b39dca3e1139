"""Benchmark runs as whole processes: wall time, peak memory of the process tree, and the report's numbers.

What the benchmark (trainer.bench) times and compares, kept apart from what it prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trainer.run.memory_guard import tree_rss


@dataclass
class Measured:
    wall_s: float
    peak_rss_bytes: int
    returncode: int
    stdout: str


def measure(argv: list[str], cwd: Path | None = None, pythonpath: Path | None = None) -> Measured:
    """Run a command, sampling the RSS of its whole process tree every 20 ms. ``pythonpath``: put first on
    the child's import path (a checkout of another revision)."""
    env = None
    if pythonpath is not None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(pythonpath),
                                                                         os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd, env=env)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    return Measured(wall, peak, proc.returncode, out)


@dataclass
class TrainingRun:
    corpus: str
    profile: str
    seed: int
    measured: Measured
    rows: int
    plcc: dict[str, float | None]
    spread: dict[str, float | None]
    status: dict[str, str]
    rmse: dict[str, float | None]
    baseline_plcc: dict[str, float | None]
    baseline_rmse: dict[str, float | None]
    pick_steps: dict[str, float | None]  # crf_pick.mean_abs_quality_error (None without quality ladders)
    pick_miss: dict[str, float | None]
    # the same with the harness's own probe as input (--harness-probes), where the corpus's clips have one
    pick_steps_harness: dict[str, float | None]
    pick_miss_harness: dict[str, float | None]
    # nested LOSO's choice: the full-corpus model's candidate, and each fold's (None: no choice ran)
    chosen: dict[str, str | None]
    fold_chosen: dict[str, list[str]]


def run_training(label: str, corpus: Path, profile: str, seed: int, workdir: Path, workers: int,
                 extra: Sequence[str] = (), harness_probes: Sequence[Path] = ()) -> TrainingRun:
    """One batch in a child process (``python -m trainer``), measured: wall time, peak RSS of its tree, its report.

    Parameters
    ----------
    label : str
        The corpus's name in the results and in the run's directory.
    corpus : Path
        The corpus the batch trains on.
    profile : str
        The training profile (``--profile``); ``reference`` always runs on one worker.
    seed : int
        The batch's ``--seed``.
    workdir : Path
        Where the run's directory goes; the batch reads an untouched model directory there.
    workers : int
        The batch's ``--workers``.
    extra : sequence of str
        More arguments for the batch; the last also names the run's directory.
    harness_probes : sequence of Path
        Passed as ``--harness-probes``, one each.
    """
    out_dir = workdir / "runs" / f"{label}_{profile}_seed{seed}{'_' + extra[-1].replace(':', '') if extra else ''}"
    argv = [sys.executable, "-m", "trainer", "--corpus", str(corpus), "--profile", profile, "--seed", str(seed),
            "--out-dir", str(out_dir), "--model-dir", str(workdir / "model-untouched"),
            "--workers", str(1 if profile == "reference" else workers), *extra,
            *(arg for path in harness_probes for arg in ("--harness-probes", str(path)))]
    measured = measure(argv)
    report_path = out_dir / "report.json"
    # Exit 1 also means "not every codec passed"; only a written report tells that from a crash.
    if measured.returncode not in (0, 1) or not report_path.exists():
        raise RuntimeError(f"{' '.join(argv)} exited {measured.returncode}:\n{measured.stdout[-3000:]}")
    report = json.loads(report_path.read_text())
    codecs = [c for c in report["codecs"] if c["status"] != "missing-rows"]
    return TrainingRun(
        corpus=label,
        profile=profile,
        seed=seed,
        measured=measured,
        rows=int(report["corpus"]["rows_accepted"]),
        plcc={c["codec"]: c["mean_plcc"] for c in codecs},
        spread={c["codec"]: c["plcc_spread"] for c in codecs},
        status={c["codec"]: c["status"] for c in codecs},
        rmse={c["codec"]: c["mean_rmse"] for c in codecs},
        baseline_plcc={c["codec"]: (c.get("baseline") or {}).get("mean_plcc") for c in codecs},
        baseline_rmse={c["codec"]: (c.get("baseline") or {}).get("mean_rmse") for c in codecs},
        pick_steps={c["codec"]: (c.get("crf_pick") or {}).get("mean_abs_quality_error") for c in codecs},
        pick_miss={c["codec"]: (c.get("crf_pick") or {}).get("miss_rate") for c in codecs},
        pick_steps_harness={c["codec"]: (c.get("crf_pick_harness_probe") or {}).get("mean_abs_quality_error")
                            for c in codecs},
        pick_miss_harness={c["codec"]: (c.get("crf_pick_harness_probe") or {}).get("miss_rate") for c in codecs},
        chosen={c["codec"]: (c.get("model_choice") or {}).get("chosen") for c in codecs},
        fold_chosen={c["codec"]: [f["model_choice"]["chosen"] for f in c["folds"] if f.get("model_choice")]
                     for c in codecs},
    )


def gb(n: int) -> str:
    return f"{n / 2**30:.2f}"


@dataclass
class Aggregate:
    """One (corpus, profile): wall time and RSS averaged over seeds, PLCC averaged per codec."""

    runs: list[TrainingRun]

    @property
    def wall_s(self) -> float:
        return sum(r.measured.wall_s for r in self.runs) / len(self.runs)

    @property
    def peak_rss(self) -> int:
        return max(r.measured.peak_rss_bytes for r in self.runs)

    def plcc(self, codec: str) -> float | None:
        return self.mean("plcc", codec)

    def mean(self, metric: str, codec: str) -> float | None:
        """``metric`` (a TrainingRun per-codec dict) averaged over seeds; None if any seed lacks it."""
        values = self.per_seed(metric, codec)
        present = [v for v in values if v is not None]
        return None if len(present) < len(values) else sum(present) / len(present)

    def per_seed(self, metric: str, codec: str) -> list[float | None]:
        """``metric`` of each seed's run, in seed order: how far one seed's folds move a mean."""
        return [getattr(r, metric).get(codec) for r in self.runs]

    def choices(self, codec: str) -> str | None:
        """Nested LOSO's choice over the seeds: the shipped candidate per seed, and how often folds chose each."""
        finals = [r.chosen.get(codec) for r in self.runs]
        if all(name is None for name in finals):
            return None
        folds = [name for r in self.runs for name in r.fold_chosen.get(codec, [])]
        counts = ", ".join(f"{name} {folds.count(name)}/{len(folds)}" for name in sorted(set(folds)))
        return f"model per seed: {' '.join(str(name) for name in finals)} (folds: {counts})"

    def passes(self, codec: str) -> str:
        statuses = [r.status.get(codec, "-") for r in self.runs]
        return f"{statuses.count('pass')}/{len(statuses)} pass"
