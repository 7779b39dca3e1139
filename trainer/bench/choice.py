"""The bench's "choice" section: every model-choice rule over many small real corpora, against the ridge.

``python -m trainer.bench --sections choice`` draws 50 subsets each of 9, 12 and 20 sources from the
YT-UGC hulls (bench.choice_eval), trains the default profile's nested LOSO on each at seeds 0-4, and
prints per rule and size the mean PLCC/RMSE difference from the report's ridge on the same folds, the
worst decile, and the share of subsets more than 0.005 PLCC below it; then the subsets themselves.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from trainer.bench.choice_eval import RuleScore, Subset, draw_subsets, rule_scores, subset_data, summarise
from trainer.executors.process_pool import configure_worker
from trainer.ingest.corpus import CodecData, load_corpus
from trainer.learning.choice_rule import CHOICE_RULES, RMSE, default_rule
from trainer.learning.planning import build_fold_tasks
from trainer.learning.profiles import DEFAULT_PROFILE

SUBSET_SIZES = (9, 12, 20)
SUBSETS_PER_SIZE = 50
SEEDS = (0, 1, 2, 3, 4)


def score_subset(data: CodecData, seed: int) -> tuple[dict[str, RuleScore], list[str]]:
    """One subset at one seed: every rule's scores, and what each fold's default rule chose."""
    from trainer.learning.tasks import run_fold_task

    folds = [result for task in build_fold_tasks(data, DEFAULT_PROFILE, seed) for result in run_fold_task(task)]
    chosen = [f.model_choice.chosen if f.model_choice else "-" for f in folds]
    return rule_scores(folds, list(CHOICE_RULES)), chosen


def bench_choice(corpus: Path, codec: str = "libx264", workers: int = 2, sizes: Sequence[int] = SUBSET_SIZES,
                 per_size: int = SUBSETS_PER_SIZE, seeds: Sequence[int] = SEEDS) -> None:
    """The section, printed: the rule table by subset size, then the subsets.

    Parameters
    ----------
    corpus : Path
        The real corpus whose sources are drawn from.
    codec : str
        Its codec trained on.
    workers : int
        Processes training subsets side by side.
    sizes : sequence of int
        Sources per subset, one set of subsets each.
    per_size : int
        Subsets drawn of each size.
    seeds : sequence of int
        Each subset trains once per seed.
    """
    data = load_corpus([corpus]).for_codec(codec)
    subsets = draw_subsets(data.sources, sizes, per_size)
    print(f"\n== model-choice rules on {len(subsets)} subsets of {corpus.name} ({codec}, {data.n_sources} sources): "
          f"default profile, seeds {','.join(map(str, seeds))}, the report's ridge on the same folds; "
          f"bitrate ladders: chosen by {default_rule(RMSE)} ==", flush=True)
    started = time.perf_counter()
    scores: dict[str, dict[str, list[RuleScore]]] = {rule: {} for rule in CHOICE_RULES}
    chosen_counts: dict[str, int] = {}
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=configure_worker,
                             initargs=(os.getpid(),)) as pool:
        futures = [(subset, pool.submit(score_subset, subset_data(data, subset), seed))
                   for subset in subsets for seed in seeds]
        for done, (subset, future) in enumerate(futures, start=1):
            by_rule, chosen = future.result()
            if done % 100 == 0:
                print(f"  {done}/{len(futures)} runs, {time.perf_counter() - started:.0f} s", flush=True)
            for rule, score in by_rule.items():
                scores[rule].setdefault(subset.name, []).append(score)
            for name in chosen:
                chosen_counts[name] = chosen_counts.get(name, 0) + 1
    print(f"{len(futures)} runs in {time.perf_counter() - started:.0f} s; folds chose ({default_rule(RMSE)}): "
          + ", ".join(f"{n} {c}" for n, c in sorted(chosen_counts.items(), key=lambda kv: -kv[1])))
    print_rule_table(scores, subsets, sizes)
    print_subsets(subsets)


def print_rule_table(scores: dict[str, dict[str, list[RuleScore]]], subsets: Sequence[Subset],
                     sizes: Sequence[int]) -> None:
    print(f"{'sources':>7} {'rule':<8} {'PLCC':>7} {'ridge':>7} {'mean dPLCC':>10} {'worst 10%':>9} "
          f"{'share < -0.005':>14} {'mean dRMSE':>10} {'worst 10%':>9} {'share > +0.5':>12}")
    for size in [*sizes, None]:
        names = {s.name for s in subsets if size is None or len(s.sources) == size}
        for rule, per_subset in scores.items():
            summary = summarise({n: v for n, v in per_subset.items() if n in names}, rule)
            label = "all" if size is None else str(size)
            print(f"{label:>7} {rule:<8} {summary.mean_plcc:7.4f} {summary.mean_ridge_plcc:7.4f} "
                  f"{summary.mean_plcc_delta:+10.4f} {summary.worst_decile_plcc_delta:+9.4f} "
                  f"{summary.share_below_plcc:14.0%} {summary.mean_rmse_delta:+10.2f} "
                  f"{summary.worst_decile_rmse_delta:+9.2f} {summary.share_above_rmse:12.0%}")


def print_subsets(subsets: Sequence[Subset]) -> None:
    print("subsets (seeded, bench.choice_eval.SUBSET_SEED):")
    for subset in subsets:
        print(f"  {subset.name}: {' '.join(subset.sources)}")
