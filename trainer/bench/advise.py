"""Benchmark section ``advise``: what ``--advise`` costs on top of the gate run, and what it says.

Each corpus is trained twice with the same seed, without and with ``--advise``; the difference
in wall time is the advisor's cost (its learning curves run only for the codecs that fail).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trainer.outputs.advice_text import estimate_text


def _run(measure: Callable[[list[str]], Any], corpus: Path, out_dir: Path, workdir: Path, workers: int,
         advise: bool) -> tuple[float, dict]:
    argv = [sys.executable, "-m", "trainer", "--corpus", str(corpus), "--seed", "0", "--out-dir", str(out_dir),
            "--model-dir", str(workdir / "model-untouched"), "--workers", str(workers), *(["--advise"] * advise)]
    measured = measure(argv)
    report_path = out_dir / "report.json"
    if measured.returncode not in (0, 1) or not report_path.exists():
        raise RuntimeError(f"{' '.join(argv)} exited {measured.returncode}:\n{measured.stdout[-3000:]}")
    return measured.wall_s, json.loads(report_path.read_text())


def bench_advise(corpora: Sequence[Path], workdir: Path, workers: int, measure: Callable[[list[str]], Any]) -> None:
    print("\n== advise: extra wall time of --advise (learning curves over sources for the failing codecs) ==")
    for corpus in corpora:
        label = corpus.stem
        plain_s, _ = _run(measure, corpus, workdir / "runs" / f"advise_{label}_off", workdir, workers, False)
        advised_s, report = _run(measure, corpus, workdir / "runs" / f"advise_{label}_on", workdir, workers, True)
        advised = [c for c in report["codecs"] if c.get("advice")]
        print(f"-- {label} ({report['corpus']['rows_accepted']} rows; {len(advised)} failing codec(s) advised): "
              f"{plain_s:.1f} s without, {advised_s:.1f} s with --advise (+{advised_s - plain_s:.1f} s, "
              f"{advised_s / plain_s:.1f}x)")
        for codec in advised:
            advice = codec["advice"]
            if advice.get("error"):
                print(f"   {codec['codec']:<12} error: {advice['error']}")
                continue
            outliers = [s["src"] for s in advice.get("sources", []) if s.get("outlier")]
            print(f"   {codec['codec']:<12} {advice['verdict']:<32} sources now {advice['sources_now']}, needed "
                  f"{estimate_text(advice.get('sources_needed'))}, mean PLCC ceiling "
                  f"{estimate_text(advice.get('mean_plcc_ceiling'))}; outliers: {', '.join(outliers) or 'none'}")
