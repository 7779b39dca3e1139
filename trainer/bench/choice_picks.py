"""The choice section's picks: subsets of the real CRF sweep's clips, the default against the harness's curve.

Picks are what the harness uses a model for, so a choice rule is also judged by them: on random
subsets of 9 and 12 of the sweep's 16 clips (bench.choice_eval's seeded draw), seeds 0-4, the default's
held-out picks as the harness serves its inputs (its own probe of each clip) beside the harness's curve on
the same ladders and targets, as published (0 kbps) and with its bitrate parse fixed; and each rule's
mean pick error per held-out clip (corpus inputs), from the candidates' outer scores.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from trainer.bench.choice_eval import draw_subsets, subset_data
from trainer.core.sections import number, section
from trainer.executors.process_pool import configure_worker
from trainer.ingest.corpus import CodecData, load_corpus
from trainer.ingest.harness_probes import load_harness_probes
from trainer.learning.choice_rule import CHOICE_RULES
from trainer.learning.crf_pick import pool
from trainer.learning.harness_floor import harness_curve_report
from trainer.learning.planning import build_fold_tasks
from trainer.learning.profiles import DEFAULT_PROFILE

PICK_SUBSET_SIZES = (9, 12)
ROWS = (("default (harness's probe)", "model", "crf_pick_harness_probe"),
        ("curve as published (0 kbps)", "curve", "crf_pick_harness_probe_0kbps"),
        ("curve, bitrate parse fixed", "curve", "crf_pick_harness_probe"))


def score_pick_subset(data: CodecData, seed: int) -> dict[str, object]:
    """One subset at one seed: the default's and the curve's pooled picks, and each rule's mean steps."""
    from trainer.learning.tasks import run_fold_task

    folds = [result for task in build_fold_tasks(data, DEFAULT_PROFILE, seed) for result in run_fold_task(task)]
    curve = harness_curve_report(data, folds, challenger_ships=True, incumbent=None) or {}
    steps: dict[str, list[float]] = {rule: [] for rule in CHOICE_RULES}
    for fold in folds:
        choice = fold.model_choice
        for rule in CHOICE_RULES:
            chosen = choice.rule_choices.get(rule, choice.chosen) if choice else None
            by_source = (choice.outer_pick_by_source.get(chosen, {}) if choice and chosen else {}) or \
                (fold.crf_pick_by_source or {})
            for value in by_source.values():
                error = number(value["mean_abs_quality_error"] if isinstance(value, Mapping) else value)
                if error is not None:
                    steps[rule].append(error)
    return {"model": {"crf_pick_harness_probe": pool([f.crf_pick_harness_probe for f in folds])},
            "curve": curve, "rule_steps": {rule: float(np.mean(v)) if v else float("nan") for rule, v in steps.items()}}


def bench_choice_picks(corpus: Path, probes: Sequence[Path], codec: str = "libx264", workers: int = 2,
                       sizes: Sequence[int] = PICK_SUBSET_SIZES, per_size: int = 50,
                       seeds: Sequence[int] = (0, 1, 2, 3, 4)) -> None:
    """Print the choice section's picks table: the default's and the curve's held-out picks per subset size,
    and each choice rule's mean pick error, every subset at every seed scored in a process pool.

    Parameters
    ----------
    corpus : Path
        The real CRF sweep's corpus file.
    probes : sequence of Path
        The harness's own probe files of the sweep's clips (--harness-probes), the inputs the default is served.
    codec : str
        The codec whose table is scored.
    workers : int
        Worker processes (one torch thread each).
    sizes : sequence of int
        The subset sizes, in clips (sources) of the sweep.
    per_size : int
        How many seeded random subsets are drawn of each size.
    seeds : sequence of int
        The run seeds each subset is trained at; the table shows the mean over subsets of the mean over seeds.
    """
    data = load_corpus([corpus]).for_codec(codec).with_harness_probes(load_harness_probes(list(probes)))
    subsets = draw_subsets(data.sources, sizes, per_size)
    print(f"\n== picks on {len(subsets)} subsets of {corpus.name}'s {data.n_sources} clips, seeds "
          f"{','.join(map(str, seeds))}: the default vs the harness's curve on the same held-out ladders ==",
          flush=True)
    runs: dict[str, list[dict[str, object]]] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver"),
                             initializer=configure_worker, initargs=(os.getpid(),)) as executor:
        futures = [(s, executor.submit(score_pick_subset, subset_data(data, s, keep_harness=True), seed))
                   for s in subsets for seed in seeds]
        for subset, future in futures:
            runs.setdefault(subset.name, []).append(future.result())
    print(f"{'clips':>5} {'predictor':<30} {'steps':>6} {'misses':>7} {'bitrate':>8}   (mean over subsets of the "
          "mean over seeds)")
    for size in sizes:
        names = [s.name for s in subsets if len(s.sources) == size]
        for label, side, key in ROWS:
            rows = [[section(r, side).get(key) for r in runs[n]] for n in names]
            cell = [np.mean([[p["mean_abs_quality_error"], p["miss_rate"], p["mean_bitrate_overspend_pct"]]
                             for p in seeds_ if p], axis=0) for seeds_ in rows if any(seeds_)]
            steps, misses, rate = np.mean(cell, axis=0)
            print(f"{size:>5} {label:<30} {steps:6.2f} {misses:7.0%} {rate:+7.1f}%")
        for rule in CHOICE_RULES:
            mean = np.nanmean([np.mean([section(r, "rule_steps")[rule] for r in runs[n]]) for n in names])
            print(f"{size:>5} {'rule ' + rule + ' (corpus inputs)':<30} {mean:6.2f}")
