"""Where a batch's wall time goes: start-up, ingest, probes, training, sweeps, retrain, outputs.

Two views of one corpus (issue #30). The whole batch runs under cProfile in its own process, which
shows the main process: its imports, the wait for the fork server (importing torch), ingest and
probe derivation, the wait for workers, incumbent scoring, planning and writing. Then each codec's
fold and final tasks run again in this process under cProfile: what a worker spends on nested
candidates, pick scoring and the held-out sweeps. Times are cumulative per function; stages of one
view may overlap (the main process scores a codec while workers train the next).
"""

from __future__ import annotations

import cProfile
import pstats
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from trainer.executors.process_pool import POOL_PRELOAD

# (label, file suffix, function name): summed cumulative seconds in the main process's profile
MAIN_STAGES: tuple[tuple[str, str, str], ...] = (
    ("imports before the run starts", "trainer/run/cli.py", "<module>"),
    ("wait for the fork server (its torch import)", "multiprocessing/popen_forkserver.py", "__init__"),
    ("ingest: parse and validate", "trainer/ingest/corpus.py", "load_corpus"),
    ("probe derivation (for_codec)", "trainer/ingest/corpus.py", "for_codec"),
    ("wait for fold and final tasks", "concurrent/futures/_base.py", "wait"),
    ("incumbent scoring and its calibration", "trainer/shipping/incumbent.py", "compare_with_incumbent"),
    ("plan: ONNX build, checks, cards, sidecars", "trainer/shipping/plan.py", "plan_promotion"),
    ("report and CI outputs", "trainer/run/service.py", "write_report"),
)
# the same for one codec's tasks run in this process (what a pool worker does)
TASK_STAGES: tuple[tuple[str, str, str], ...] = (
    ("fold tasks", "trainer/learning/tasks.py", "run_fold_task"),
    ("  training (every candidate, inner and outer folds)", "trainer/learning/model.py", "fit"),
    ("  lines (closed form)", "trainer/learning/line_model.py", "fit_line"),
    ("  nested choice: pick scoring", "trainer/learning/choice_rule.py", "by_source"),
    ("  held-out picks", "trainer/learning/crf_pick.py", "crf_pick_metrics"),
    ("  held-out ladders (console)", "trainer/learning/ladder_curves.py", "held_out_ladders"),
    ("  held-out picks per source", "trainer/learning/crf_pick.py", "crf_pick_by_group"),
    ("  pick ladders (calibration)", "trainer/learning/pick_offsets.py", "pick_ladders"),
    ("final retrain", "trainer/learning/tasks.py", "run_final_task"),
)
SHIPPED_MODELS = Path(__file__).resolve().parents[2] / "model"
WORKER_PRELOAD = "import " + ", ".join(POOL_PRELOAD)  # what the fork server imports before any worker


def stage_seconds(stats: pstats.Stats, stages: Sequence[tuple[str, str, str]]) -> list[tuple[str, float]]:
    """Cumulative seconds of each stage's function (summed over its entries in the profile)."""
    # Stats keeps its table in the instance attribute ``stats``, which typeshed does not declare: read it from
    # the instance's namespace (same dict) rather than silence the checker.
    table = vars(stats)["stats"]
    found = []
    for label, suffix, name in stages:
        total = sum(entry[3] for (path, _line, function), entry in table.items()
                    if function == name and path.replace("\\", "/").endswith(suffix))
        found.append((label, float(total)))
    return found


def _import_seconds(statement: str) -> float:
    """Wall seconds of a fresh interpreter that only imports: what a process pays before it works."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True)
    return time.perf_counter() - started


def profile_batch(corpus: Path, workdir: Path, harness_probes: Sequence[Path] = ()) -> None:
    """Print both views for ``corpus`` (a batch over every codec it has)."""
    from trainer.ingest.corpus import load_corpus
    from trainer.ingest.harness_probes import load_harness_probes
    from trainer.learning.planning import build_final_task, build_fold_tasks
    from trainer.learning.profiles import DEFAULT_PROFILE
    from trainer.learning.selection import final_choice
    from trainer.learning.tasks import run_final_task, run_fold_task

    out = workdir / "profile" / corpus.stem
    out.mkdir(parents=True, exist_ok=True)
    # the shipped stubs, as an operator's model directory holds them: the incumbent is scored too
    shutil.copytree(SHIPPED_MODELS, out / "model", dirs_exist_ok=True)
    profile_file = out / "main.prof"
    argv = [sys.executable, "-m", "cProfile", "-o", str(profile_file), "-m", "trainer", "--corpus", str(corpus),
            "--out-dir", str(out / "runs"), "--model-dir", str(out / "model"),
            *(arg for path in harness_probes for arg in ("--harness-probes", str(path)))]
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    print(f"\n-- {corpus.stem}: whole batch {wall:.2f} s wall (under cProfile); "
          f"a bare interpreter importing the CLI {_import_seconds('import trainer.run.cli'):.2f} s, "
          f"a worker's preload {_import_seconds(WORKER_PRELOAD):.2f} s")
    main_stats = pstats.Stats(str(profile_file))
    for label, seconds in stage_seconds(main_stats, MAIN_STAGES):
        print(f"   main   {label:<52} {seconds:7.2f} s")
    corpus_table = load_corpus([corpus])
    codecs = [c for c, n in corpus_table.rows_per_codec().items() if n]
    probes = load_harness_probes(list(harness_probes)) if harness_probes else None
    profiler = cProfile.Profile()
    started = time.perf_counter()
    for name in codecs:
        data = corpus_table.for_codec(name)
        if probes is not None:
            data = data.with_harness_probes(probes)
        profiler.enable()
        results = [r for task in build_fold_tasks(data, DEFAULT_PROFILE, 0) for r in run_fold_task(task)]
        choice = final_choice([r.model_choice for r in results if r.model_choice is not None])
        run_final_task(build_final_task(data, DEFAULT_PROFILE, 0, choice))
        profiler.disable()
    tasks_wall = time.perf_counter() - started
    print(f"   tasks of {len(codecs)} codec(s) run again in one process: {tasks_wall:.2f} s")
    for label, seconds in stage_seconds(pstats.Stats(profiler), TASK_STAGES):
        print(f"   worker {label:<52} {seconds:7.2f} s")


def bench_profile(corpora: Sequence[Path], workdir: Path, harness_probes: Sequence[Path]) -> None:
    print("\n== where the time goes (cumulative seconds per stage; see trainer/bench/profile.py) ==")
    for corpus in corpora:
        profile_batch(corpus, workdir, harness_probes)
