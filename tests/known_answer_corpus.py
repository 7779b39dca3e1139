"""A generated corpus whose gate verdict depends on how many sources it has, for the advisor's known-answer check.

Each source is an independent draw (so the first ``n`` sources of the corpus are a corpus of
``n``): a CRF ladder at one resolution whose VMAF follows bits per pixel, minus a content penalty
that is a wavy function of the source's motion (``frame_diff_mean``, which the model sees). With
few sources the model sees the wave at a few points and misses it between them, so a held-out
source off the sampled points is predicted off by a few VMAF and its fold's PLCC drops; more
sources sample the wave densely enough to learn it. Rows are written as a real ingest writes them
(no generated flag). Deterministic in its arguments.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from tests.ladder_corpora import write_rows

CODEC = "libx265"
CRFS = tuple(range(18, 46, 3))
RESOLUTIONS = ((1280, 720), (1920, 1080))


# Tuned so the default-profile gate crosses at about 20 sources (see test_advisor_known_answer.py).
AMPLITUDE, PERIODS = 2.5, 2.0
GRID = (8, 12, 16, 20, 24, 32, 40)
SEEDS = (0, 1, 2, 3, 4)


def wave_rows(n_sources: int, amplitude: float = AMPLITUDE, periods: float = PERIODS, noise: float = 0.3,
              seed: int = 0) -> list[dict[str, object]]:
    """``n_sources`` ladders; the content penalty is ``amplitude * sin(2 pi periods motion)`` for motion in [0, 1)."""
    rows = []
    for s in range(n_sources):
        rng = np.random.default_rng([seed, s])  # per source: the first n sources do not depend on the total
        motion = rng.uniform(0.0, 1.0)
        width, height = RESOLUTIONS[int(rng.integers(len(RESOLUTIONS)))]
        complexity = rng.uniform(0.6, 1.6)
        penalty = amplitude * np.sin(2.0 * np.pi * periods * motion)
        for crf in CRFS:
            bpp = 0.08 * complexity * np.exp(-0.1 * (crf - 28))
            kbps = bpp * width * height * 24.0 / 1000.0
            vmaf = 100.0 / (1.0 + np.exp(-(np.log(bpp / np.sqrt(complexity)) + 3.3) * 1.6)) - penalty
            vmaf += rng.normal(0.0, noise)
            rows.append({"src": f"wave{s:03d}", "encoder": CODEC, "crf": crf, "width": width, "height": height,
                         "framerate": 24.0, "bitrate_kbps": round(float(kbps), 3), "duration_s": 10.0,
                         "frame_diff_mean": round(float(20.0 * motion), 4),
                         "vmaf_score": round(float(np.clip(vmaf, 0.0, 100.0)), 4), "exit_status": 0})
    return rows


def load_first(n_sources: int, directory: Path):
    """The first ``n_sources`` of the corpus, written as JSONL and loaded as the trainer loads a corpus."""
    from trainer.ingest.corpus import load_corpus

    path = write_rows(directory / f"wave_{n_sources}.jsonl", wave_rows(n_sources))
    return load_corpus([path]).for_codec(CODEC)


def gate_passes(n_sources: int, seed: int, directory: Path) -> tuple[bool, float, float]:
    """The gate on the first ``n_sources``, by the engine's own fold tasks: (passed, mean PLCC, spread)."""
    from trainer.core.gate import evaluate_gate
    from trainer.learning.planning import build_fold_tasks
    from trainer.learning.profiles import DEFAULT_PROFILE
    from trainer.learning.tasks import run_fold_task

    data = load_first(n_sources, directory)
    verdict = evaluate_gate([r.plcc for task in build_fold_tasks(data, DEFAULT_PROFILE, seed)
                             for r in run_fold_task(task)])
    return verdict.passed, float(verdict.mean_plcc or 0.0), float(verdict.plcc_spread or 0.0)


def main() -> None:
    """Print the gate over the grid of corpus sizes and seeds (the measurement behind the true crossing)."""
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        for n in GRID:
            runs = [gate_passes(n, seed, Path(tmp)) for seed in SEEDS]
            cells = " ".join(f"{'P' if ok else 'f'}({mean:.4f},{spread:.4f})" for ok, mean, spread in runs)
            print(f"{n:3d} sources: {sum(ok for ok, _, _ in runs)}/{len(SEEDS)} pass  {cells}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
