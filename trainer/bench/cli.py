"""Benchmark: default vs reference-equivalent training, and ingest throughput, in one run.

    python -m trainer.bench                      # S, M, L + real corpora + ingest (reference on S, M, real)
    python -m trainer.bench --sizes S --sections training
    python -m trainer.bench --sections real --real-corpus my_corpus.jsonl
    python -m trainer.bench --sections encode --clips DIR --codec libx264 --model-dir model --harness PATH

Prints ratios, not verdicts: wall time, rows/s and peak RSS (whole process tree) per run, the
reference/default wall-time ratio, per-codec mean LOSO PLCC of both profiles and their
difference, and any codec whose verdict flips. Corpora are generated deterministically under
``runs/bench/``; nothing is written to the model directory (no --yes).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from trainer.bench.advise import bench_advise
from trainer.bench.calibration import bench_calibration
from trainer.bench.choice import SUBSETS_PER_SIZE, bench_choice
from trainer.bench.choice_picks import bench_choice_picks
from trainer.bench.corpora import write_bench_corpus
from trainer.bench.encode_media import EncodeToolMissing
from trainer.bench.encode_section import (
    DEFAULT_CRFS,
    DEFAULT_TARGETS,
    print_encode_record,
    replay_encode,
    run_encode_bench,
)
from trainer.bench.harness_bridge import HarnessNotFound
from trainer.bench.ingest import bench_ingest
from trainer.bench.profile import bench_profile
from trainer.bench.runs import Aggregate, TrainingRun, gb, measure, run_training
from trainer.bench.scale import DEFAULT_ROWS, bench_scale
from trainer.core.codecs import SUPPORTED_CODECS
from trainer.core.gate import SHIP_GATE_PLCC_SPREAD_MAX
from trainer.outputs.describe import fmt

SIZES = {"S": (12, 40), "M": (20, 200), "L": (40, 500)}  # sources x rows per source, per codec
REFERENCE_SIZES = ("S", "M")  # reference on L would take hours; measured where the anchors are
# Small corpora are seed-sensitive (about +/-0.006 PLCC between seeds for the reference), so their
# accuracy comparison averages several seeds; M and L are stable with one.
SEEDS_BY_CORPUS = {"S": (0, 1, 2), "M": (0,), "L": (0,)}
# Real corpora have 9-20 sources: one seed is noise, so they are judged over seeds 0-4.
REAL_SEEDS = (0, 1, 2, 3, 4)
SHARED_CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
SHARED_HARNESS_PROBES = SHARED_CORPORA.parent / "harness"
INGEST_ROWS = 1_000_000


def print_training(runs: list[TrainingRun]) -> None:
    groups: dict[tuple[str, str], Aggregate] = {}
    for run in runs:
        groups.setdefault((run.corpus, run.profile), Aggregate([])).runs.append(run)
    print("\n== training: all codecs, 5-fold LOSO (wall time per run, mean over seeds) ==")
    print(f"{'corpus':<7} {'profile':<10} {'seeds':>5} {'wall_s':>8} {'rows/s':>9} {'peak_rss_gb':>11}")
    for (corpus, profile), agg in groups.items():
        rows = agg.runs[0].rows
        print(f"{corpus:<7} {profile:<10} {len(agg.runs):>5} {agg.wall_s:>8.1f} {rows / agg.wall_s:>9.0f} "
              f"{gb(agg.peak_rss):>11}")
    for corpus in dict.fromkeys(c for c, _ in groups):
        default, reference = groups.get((corpus, "default")), groups.get((corpus, "reference"))
        if not default or not reference:
            continue
        print(f"\n-- {corpus}: wall-time ratio reference/default = {reference.wall_s / default.wall_s:.1f}x")
        print(f"   {'codec':<12} {'ref_plcc':>9} {'def_plcc':>9} {'delta':>8}  verdicts ref -> default")
        worst: tuple[str, float] | None = None
        flips = []
        for codec in default.runs[0].plcc:
            ref, new = reference.plcc(codec), default.plcc(codec)
            delta = None if ref is None or new is None else new - ref
            if delta is not None and (worst is None or delta < worst[1]):
                worst = (codec, delta)
            ref_pass = [r.status.get(codec) == "pass" for r in reference.runs]
            def_pass = [r.status.get(codec) == "pass" for r in default.runs]
            if sum(def_pass) < sum(ref_pass):
                flips.append(codec)
            print(f"   {codec:<12} {fmt(ref):>9} {fmt(new):>9} {fmt(delta):>8}  "
                  f"{reference.passes(codec)} -> {default.passes(codec)}")
        if worst:
            print(f"   worst delta: {worst[1]:+.4f} ({worst[0]}); target >= -0.002")
        spreads = {name: [v for r in agg.runs for v in r.spread.values() if v is not None]
                   for name, agg in (("reference", reference), ("default", default))}
        means = {name: sum(v) / len(v) for name, v in spreads.items() if v}
        if len(means) == 2:
            print(f"   mean fold-PLCC spread over codecs and seeds: reference {means['reference']:.4f}, "
                  f"default {means['default']:.4f} (gate bound {SHIP_GATE_PLCC_SPREAD_MAX:.4f})")
        print(f"   pass -> fail flips: {', '.join(flips) or 'none'}"
              + (f"  (codecs whose spread straddles the {SHIP_GATE_PLCC_SPREAD_MAX:.4f} bound flip with the seed "
                 "under either profile)" if flips else ""))


def bench_real(corpora: Sequence[Path], workdir: Path, workers: int, profiles: Sequence[str],
               harness_probes: Sequence[Path] = ()) -> None:
    """Real corpora: the profiles vs the linear baseline, seeds 0-4, the report's folds; CRF picks where
    the corpus has quality ladders, also with the harness's own probe where ``harness_probes`` has the clips
    (and then the first profile trained on that probe too: ``<profile>+probe``)."""
    print("\n== real corpora: mean LOSO PLCC / RMSE over seeds 0-4, every model on the report's own folds; "
          "CRF pick error (steps) and miss rate where the corpus has quality ladders ==")
    for path in corpora:
        label = path.stem
        groups: dict[str, Aggregate] = {}
        for profile in profiles:
            for seed in REAL_SEEDS:
                run = run_training(label, path, profile, seed, workdir, workers, harness_probes=harness_probes)
                groups.setdefault(profile, Aggregate([])).runs.append(run)
        default = groups[profiles[0]]
        if any(v is not None for run in default.runs for v in run.pick_steps_harness.values()):
            for seed in REAL_SEEDS:  # the harness probed these clips: also train on its probe (the README's advice)
                run = run_training(label, path, profiles[0], seed, workdir, workers,
                                   extra=["--train-on-harness-probes"], harness_probes=harness_probes)
                groups.setdefault(f"{profiles[0]}+probe", Aggregate([])).runs.append(run)
        times = ", ".join(f"{name} {agg.wall_s:.1f} s" for name, agg in groups.items())
        print(f"-- {label} ({default.runs[0].rows} rows; per run: {times})")
        if "reference" in groups and profiles[0] != "reference":  # the same runs, side by side
            print(f"   wall-time ratio reference/{profiles[0]} = {groups['reference'].wall_s / default.wall_s:.2f}x "
                  f"(whole process, mean of {len(REAL_SEEDS)} runs each)")
        print(f"   {'codec':<12} {'model':<13} {'PLCC':>7} {'RMSE':>7} {'minus baseline':>16} {'pick':>5} {'miss':>5}"
              "  verdicts")
        for codec in default.runs[0].plcc:
            base_plcc, base_rmse = default.mean("baseline_plcc", codec), default.mean("baseline_rmse", codec)
            print(f"   {codec:<12} {'baseline':<13} {fmt(base_plcc):>7} {fmt(base_rmse, 2):>7}")
            for profile, agg in groups.items():
                plcc, rmse = agg.mean("plcc", codec), agg.mean("rmse", codec)
                gap = "-" if plcc is None or base_plcc is None else f"{plcc - base_plcc:+.4f}"
                gap_rmse = "-" if rmse is None or base_rmse is None else f"{rmse - base_rmse:+.2f}"
                steps, miss = agg.mean("pick_steps", codec), agg.mean("pick_miss", codec)
                print(f"   {codec:<12} {profile:<13} {fmt(plcc):>7} {fmt(rmse, 2):>7} {gap:>8} {gap_rmse:>7} "
                      f"{fmt(steps, 2):>5} {fmt(miss, 2):>5}  {agg.passes(codec)}")
                if steps is not None:  # a 16-source corpus: one seed's folds move the mean a lot
                    seeds = " ".join(fmt(v, 2) for v in agg.per_seed("pick_steps", codec))
                    print(f"   {'':<12} {'':<13} pick steps per seed {', '.join(map(str, REAL_SEEDS))}: {seeds}")
                steps, miss = agg.mean("pick_steps_harness", codec), agg.mean("pick_miss_harness", codec)
                if steps is not None:  # judged again as the harness would feed the model: its own probe
                    seeds = " ".join(fmt(v, 2) for v in agg.per_seed("pick_steps_harness", codec))
                    print(f"   {'':<12} {'':<13} with the harness's own probe: pick {fmt(steps, 2)} miss "
                          f"{fmt(miss, 2)}; per seed: {seeds}")
                if (choices := agg.choices(codec)) is not None:  # which model nested LOSO shipped, and how firmly
                    print(f"   {'':<12} {'':<13} {choices}")


def bench_cluster(workdir: Path, workers: int) -> None:
    """M on a LocalCluster of worker processes vs the fork-server pool, on this one machine."""
    from trainer.executors.dask_cluster import connect

    corpus = write_bench_corpus(workdir / "corpora" / "M.jsonl", *SIZES["M"])
    started = time.perf_counter()
    connect(f"local:{workers}").close()
    startup = time.perf_counter() - started
    pool = run_training("M", corpus, "default", 0, workdir, workers)
    dask = run_training("M", corpus, "default", 0, workdir, workers, extra=["--scheduler", f"local:{workers}"])
    print(f"\n== cluster: M, {workers}-worker LocalCluster vs {workers}-worker process pool (one machine) ==")
    print(f"process pool   {pool.measured.wall_s:7.1f} s   peak RSS {gb(pool.measured.peak_rss_bytes)} GB")
    print(f"dask local:{workers}   {dask.measured.wall_s:7.1f} s   peak RSS {gb(dask.measured.peak_rss_bytes)} GB")
    print(f"ratio dask/pool = {dask.measured.wall_s / pool.measured.wall_s:.2f}x; of the difference, starting the "
          f"LocalCluster and connecting takes {startup:.1f} s (measured alone); the rest is per-task transport "
          "(scatter, result transfer) and workers that import torch on their first task")
    worst = max(abs((dask.plcc[c] or 0) - (pool.plcc[c] or 0)) for c in pool.plcc)
    print(f"largest per-codec mean-PLCC difference dask vs pool: {worst:.2e}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S,M,L", help="comma-separated corpus sizes (S, M, L)")
    parser.add_argument("--sections", default="training,real,ingest",
                        help="comma-separated: training (generated S/M/L), real (shared corpora), ingest, "
                        "cluster (M on a Dask LocalCluster vs the process pool), advise (its cost), calibration "
                        "(margins and offsets cross-conformally, then as the harness reads them on unseen clips), "
                        "profile (where a batch's time goes, stage by stage: the real corpora and M), scale (one "
                        "codec at 100k/300k/1M rows: wall, first fold, peak RSS, CPU/wall, rows/s), choice (every "
                        "model-choice rule over many small real corpora drawn from the YT-UGC hulls, vs the ridge), "
                        "encode (the harness's own pick_crf on real clips, checked with real encodes and libvmaf; "
                        "needs --clips and --harness, and ffmpeg from the extra: pip install -e '.[encode]'; "
                        "docs/harness.md)")
    parser.add_argument("--scale-rows", default=",".join(map(str, DEFAULT_ROWS)),
                        help="comma-separated row counts of the scale section (default 100000,300000,1000000)")
    parser.add_argument("--calibration-splits", type=int, default=10,
                        help="random source splits per held-back share in the calibration section (default 10)")
    parser.add_argument("--real-corpus", action="append", type=Path, default=[], metavar="FILE",
                        help="a real corpus for the real section (default: every *.jsonl in ../shared/corpora)")
    parser.add_argument("--harness-probes", action="append", type=Path, default=[], metavar="FILE",
                        help="the harness's own probe per clip of the real corpora: picks are also judged with it "
                        "(default: every *_probe_*.jsonl in ../shared/harness)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference-equivalent runs")
    parser.add_argument("--real-profiles", default="default,reference",
                        help="comma-separated profiles the real section compares (first one first; e.g. "
                        "default,nested to measure nested model choice)")
    parser.add_argument("--ingest-against", type=Path, metavar="CHECKOUT",
                        help="the ingest section also times this checkout of another revision (e.g. `git worktree "
                        "add ../wt-76abf1f 76abf1f`), alternating with this one, and prints the ratio")
    parser.add_argument("--ingest-pairs", type=int, default=3,
                        help="alternating runs per side with --ingest-against (default 3)")
    parser.add_argument("--choice-corpus", type=Path, default=SHARED_CORPORA / "ytugc_hulls_libx264.jsonl",
                        help="the large real corpus the choice section draws small corpora from")
    parser.add_argument("--choice-sweep", type=Path, default=SHARED_CORPORA / "crfsweep_libx264.jsonl",
                        help="the real CRF sweep whose clip subsets the choice section judges picks on")
    parser.add_argument("--choice-subsets", type=int, default=SUBSETS_PER_SIZE,
                        help=f"subsets per size in the choice section (default {SUBSETS_PER_SIZE})")
    parser.add_argument("--clips", type=Path, metavar="DIR", help="encode section: a folder of video clips")
    parser.add_argument("--codec", default="libx264", help="encode section: the codec (default libx264)")
    parser.add_argument("--model-dir", action="append", type=Path, default=[], metavar="DIR",
                        help="encode section: a model directory whose predictor_<codec>.onnx the harness loads "
                        "(repeatable; default model); the harness's analytical curve is always beside it")
    parser.add_argument("--harness", type=Path, metavar="PATH",
                        help="encode section: a checkout of the encoder harness (github:lusoris/vmaf; its "
                        "tools/vmaf-tune/src is imported, never copied)")
    parser.add_argument("--ffmpeg", metavar="PATH", help="encode section: ffmpeg with libvmaf (default: the one "
                        "imageio-ffmpeg ships)")
    parser.add_argument("--encode-frames", type=int, default=60,
                        help="encode section: frames from the start of each clip, one shot (default 60)")
    parser.add_argument("--encode-crfs", default=f"{DEFAULT_CRFS[0]}-{DEFAULT_CRFS[-1]}",
                        help="encode section: the CRF sweep the best CRF comes from, LO-HI (default 16-45)")
    parser.add_argument("--encode-targets", default=",".join(f"{t:g}" for t in DEFAULT_TARGETS),
                        help="encode section: comma-separated target VMAFs (default 85,90,93,95)")
    parser.add_argument("--encode-record", type=Path, metavar="FILE",
                        help="encode section: print the table of a recorded run instead of measuring")
    parser.add_argument("--workdir", default="runs/bench")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    sections = set(args.sections.split(","))
    if "encode" in sections and not args.encode_record and (args.clips is None or args.harness is None):
        parser.error("the encode section needs --clips DIR and --harness PATH (or --encode-record FILE)")
    encode_crfs, encode_targets = _crf_range(parser, args.encode_crfs), _targets(parser, args.encode_targets)
    print(f"machine: {os.cpu_count()} cores; workers={args.workers}; python {sys.version.split()[0]}")
    if "training" in sections:
        runs: list[TrainingRun] = []
        targets = [(size, *SIZES[size]) for size in args.sizes.split(",") if size]
        for size, n_sources, rows_per_source in targets:
            corpus = write_bench_corpus(workdir / "corpora" / f"{size}.jsonl", n_sources, rows_per_source)
            with_reference = not args.no_reference and size in REFERENCE_SIZES
            for profile in ["default"] + (["reference"] if with_reference else []):
                for seed in SEEDS_BY_CORPUS[size]:
                    runs.append(run_training(size, corpus, profile, seed, workdir, args.workers))
                    print(f"  {size} {profile} seed {seed}: {runs[-1].measured.wall_s:.1f} s", flush=True)
        print_training(runs)
    if "real" in sections:
        real = args.real_corpus or sorted(SHARED_CORPORA.glob("*.jsonl"))
        profiles = [p for p in args.real_profiles.split(",") if p and not (args.no_reference and p == "reference")]
        probes = args.harness_probes or sorted(SHARED_HARNESS_PROBES.glob("*_probe_*.jsonl"))
        bench_real(real, workdir, args.workers, profiles, probes)
    if "ingest" in sections:
        per_codec = INGEST_ROWS // len(SUPPORTED_CODECS) // 50 + 1
        corpus = write_bench_corpus(workdir / "corpora" / "ingest_1m.jsonl", 50, per_codec)
        bench_ingest(corpus, workdir, args.workers, args.ingest_against, args.ingest_pairs)
    if "cluster" in sections:
        bench_cluster(workdir, args.workers)
    if "advise" in sections:
        corpora = args.real_corpus or sorted(SHARED_CORPORA.glob("*.jsonl"))
        bench_advise([*corpora, write_bench_corpus(workdir / "corpora" / "M.jsonl", *SIZES["M"])], workdir,
                     args.workers, measure)
    if "calibration" in sections:
        bench_calibration(args.real_corpus or sorted(SHARED_CORPORA.glob("*.jsonl")), workdir,
                          args.harness_probes or sorted(SHARED_HARNESS_PROBES.glob("*_probe_*.jsonl")),
                          args.calibration_splits)
    if "profile" in sections:
        corpora = args.real_corpus or sorted(SHARED_CORPORA.glob("*.jsonl"))
        bench_profile([*corpora, write_bench_corpus(workdir / "corpora" / "M.jsonl", *SIZES["M"])], workdir,
                      args.harness_probes or sorted(SHARED_HARNESS_PROBES.glob("*_probe_*.jsonl")))
    if "scale" in sections:
        bench_scale(workdir, args.workers, [int(n) for n in args.scale_rows.split(",") if n])
    if "choice" in sections:
        bench_choice(args.choice_corpus, workers=args.workers, per_size=args.choice_subsets)
        probes = args.harness_probes or sorted(SHARED_HARNESS_PROBES.glob("*_probe_*.jsonl"))
        bench_choice_picks(args.choice_sweep, probes, workers=args.workers, per_size=args.choice_subsets)
    if "encode" in sections and args.encode_record:
        replay_encode(args.encode_record)
    elif "encode" in sections:
        try:
            record = run_encode_bench(args.clips, args.codec, args.model_dir or [Path("model")], args.harness,
                                      workdir, args.encode_frames, encode_crfs, encode_targets, args.ffmpeg)
            print_encode_record(record, f"record {workdir / 'encode' / f'{args.codec}.json'}")
        except (FileNotFoundError, HarnessNotFound, EncodeToolMissing) as err:  # what the operator gave is wrong
            print(f"encode section: {err}", file=sys.stderr)
            return 2
    return 0


def _crf_range(parser: argparse.ArgumentParser, text: str) -> list[int]:
    low, sep, high = text.partition("-")
    try:
        crfs = list(range(int(low), int(high) + 1)) if sep else []
    except ValueError:
        crfs = []
    if len(crfs) < 3:
        parser.error(f"--encode-crfs {text!r}: expected LO-HI with at least 3 CRFs, e.g. 16-45")
    return crfs


def _targets(parser: argparse.ArgumentParser, text: str) -> list[float]:
    try:
        targets = [float(t) for t in text.split(",") if t]
    except ValueError:
        targets = []
    if not targets or not all(0 < t <= 100 for t in targets):
        parser.error(f"--encode-targets {text!r}: expected comma-separated VMAF targets in (0, 100]")
    return targets


if __name__ == "__main__":
    sys.exit(main())
