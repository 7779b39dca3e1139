"""The scale section: one codec at 100k / 300k / 1M rows (issue #36), as an operator would run it.

    python -m trainer.bench --sections scale                         # 100k, 300k, 1M rows of libx264
    python -m trainer.bench --sections scale --scale-rows 3000000    # the 3M check (RSS <= 8 GB)

Each size is a whole ``--batch --yes`` run on a generated corpus (200 rows per source, so 1M rows are 5,000
sources) into a copy of the shipped model directory. Printed per size: wall time, the time to the first fold
line (and its share of the wall), peak RSS of the whole process tree, CPU time over wall time across the fold
stage (2.0 is both cores busy), rows per second, the verdict and the exit code.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trainer.bench.corpora import write_bench_corpus
from trainer.run.memory_guard import gigabytes, tree_pids, tree_rss

ROWS_PER_SOURCE = 200
DEFAULT_ROWS = (100_000, 300_000, 1_000_000)
CODEC = "libx264"
SHIPPED_MODELS = Path(__file__).resolve().parents[2] / "model"
SAMPLE_S = 0.25


@dataclass
class ScaleRun:
    rows: int
    wall_s: float = 0.0
    first_fold_s: float | None = None
    folds_done_s: float | None = None
    peak_rss: int = 0
    fold_cpu_s: float = 0.0
    queued_s: float | None = None
    returncode: int | None = None
    verdict: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def fold_cpu_per_wall(self) -> float | None:
        if self.first_fold_s is None or self.folds_done_s is None or self.queued_s is None:
            return None
        return self.fold_cpu_s / max(1e-9, self.folds_done_s - self.queued_s)


def _cpu_seconds(root: int) -> float:
    """User + system time of the process tree so far (live processes, and the children they reaped)."""
    ticks = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return ticks / 100.0  # USER_HZ: 100 on Linux


def run_scale(rows: int, workdir: Path, workers: int) -> ScaleRun:
    corpus = write_bench_corpus(workdir / "corpora" / f"scale_{rows}.jsonl", rows // ROWS_PER_SOURCE,
                                ROWS_PER_SOURCE, codecs=[CODEC])
    out = workdir / f"scale_{rows}"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(SHIPPED_MODELS, out / "model")
    argv = [sys.executable, "-m", "trainer", "--corpus", str(corpus), "--codec", CODEC, "--yes", "--out-dir",
            str(out), "--model-dir", str(out / "model"), "--workers", str(workers)]
    run = ScaleRun(rows)
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = threading.Event()
    queued_cpu = 0.0

    def sample() -> None:
        while not done.is_set():
            run.peak_rss = max(run.peak_rss, tree_rss(proc.pid))
            time.sleep(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        now = time.perf_counter() - started
        run.lines.append(line.rstrip())
        if f"{CODEC}: queued" in line:
            run.queued_s, queued_cpu = now, _cpu_seconds(proc.pid)
        elif f"{CODEC} fold " in line and run.first_fold_s is None:
            run.first_fold_s = now
        elif line.startswith((f"{CODEC}: PASS", f"{CODEC}: FAIL", f"{CODEC}: ERROR")):
            run.folds_done_s, run.verdict = now, line.split()[1]
            run.fold_cpu_s = _cpu_seconds(proc.pid) - queued_cpu
    run.returncode = proc.wait()
    run.wall_s = time.perf_counter() - started
    done.set()
    sampler.join()
    return run


def bench_scale(workdir: Path, workers: int, sizes: Sequence[int] = DEFAULT_ROWS) -> list[ScaleRun]:
    print(f"\n== scale: one codec ({CODEC}), {ROWS_PER_SOURCE} rows per source, --batch --yes, "
          f"{workers} workers ==")
    runs = []
    for rows in sizes:
        run = run_scale(rows, workdir, workers)
        runs.append(run)
        print(f"  {rows:,} rows: {run.wall_s:.1f} s, exit {run.returncode}", flush=True)
    print(f"{'rows':>10} {'wall s':>8} {'1st fold s':>11} {'share':>6} {'peak RSS':>10} {'CPU/wall':>9} "
          f"{'rows/s':>9}  verdict")
    for run in runs:
        first = "-" if run.first_fold_s is None else f"{run.first_fold_s:.1f}"
        share = "-" if run.first_fold_s is None else f"{run.first_fold_s / run.wall_s:.0%}"
        ratio = "-" if run.fold_cpu_per_wall is None else f"{run.fold_cpu_per_wall:.2f}"
        print(f"{run.rows:>10,} {run.wall_s:>8.1f} {first:>11} {share:>6} {gigabytes(run.peak_rss):>10} {ratio:>9} "
              f"{run.rows / run.wall_s:>9,.0f}  {run.verdict or '-'} (exit {run.returncode})")
    return runs
