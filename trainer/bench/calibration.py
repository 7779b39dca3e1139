"""Benchmark: does the shipped margin hold on clips the model never saw, read the way the harness reads it?

    python -m trainer.bench --sections calibration

Two measurements, printed as tables (seeds 0-4 / repeated splits; nothing in ``model/`` changes):

1. **Cross-conformal tables** of every real corpus, seeds 0-4 (the report's own numbers): the
   interval's row coverage and the target offsets' misses and bitrate, for the model a PASS would
   ship and for the shipped stub.
2. **As the harness uses it**, over repeated random splits of a corpus's sources (half, then a
   quarter held back): a ``--yes`` batch on the rest writes the model and its sidecar into a
   scratch copy of ``model/`` (the stub kept after a failed gate on the real sweep; a model
   promoted after a PASS on a generated ladder corpus), then on the held-back clips — clips
   neither the model nor its sidecar saw — the ONNX runs on the harness's probe inputs, the sidecar is loaded (with
   ``vmaftune.conformal.load_split_calibration`` when the harness is importable, else the same rule
   here) and each in-band row's interval and each pick at target + the sidecar's alpha 0.10 offset
   is scored.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import orjson

from trainer.core.codecs import PROBE_PRESET, PROBE_QUALITY
from trainer.ingest.corpus import load_corpus
from trainer.ingest.harness_probes import load_harness_probes, probed_rows, with_probe
from trainer.learning.calibration import BAND_MIN_VMAF, conformal_quantile
from trainer.learning.pick_offsets import pick_cases, pick_ladders, summary_at
from trainer.shipping.artifacts import calibration_path, model_path
from trainer.shipping.onnx_export import ort_predict

SPLIT_ALPHA = 0.10
REPO_MODEL_DIR = Path(__file__).resolve().parents[2] / "model"


def harness_loader() -> tuple[str, Callable[[Path, float], float]]:
    """The harness's own sidecar loader when importable (PYTHONPATH=…/tools/vmaf-tune/src), else this rule."""
    try:  # optional, never a dependency: the harness's own module, where the operator put it on the path
        conformal = importlib.import_module("vmaftune.conformal")

        def harness(path: Path, alpha: float) -> float:
            return dataclasses.replace(conformal.load_split_calibration(path), alpha=alpha).quantile()

        return "vmaftune.conformal.load_split_calibration", harness
    except ImportError:
        def ours(path: Path, alpha: float) -> float:
            return conformal_quantile(json.loads(path.read_text())["residuals"], alpha)

        return "trainer.learning.calibration.conformal_quantile (vmaftune not importable)", ours


def _mean_table(reports: Sequence[dict], side: Callable[[dict], dict | None]) -> list[str]:
    cals = [c for r in reports for c in [side(r["codecs"][0])] if c and c.get("status") == "ok"]
    if not cals:
        return ["     no calibration (too few rows, picks or sources)"]
    lines = [f"     {'alpha':>5} {'margin':>7} {'covered':>8} {'offset':>7} {'misses':>7} {'bitrate':>8}"]
    for i, interval in enumerate(cals[0]["interval_table"]):
        margin = np.mean([c["interval_table"][i]["margin_vmaf"] for c in cals])
        covered = np.mean([c["interval_table"][i]["row_coverage"] for c in cals])
        picks = [c["pick_table"][i] for c in cals if c["pick_table"]]
        pick = ""
        if picks:
            overspend = np.mean([p["crf_pick"]["mean_bitrate_overspend_pct"] or 0 for p in picks])
            pick = (f"{np.mean([p['target_offset_vmaf'] for p in picks]):>7.2f} "
                    f"{np.mean([p['crf_pick']['miss_rate'] for p in picks]):>7.3f} {overspend:>+7.1f}%")
        lines.append(f"     {interval['alpha']:>5g} {margin:>7.2f} {covered:>8.3f} {pick}")
    plains = [c["plain_pick"] for c in cals if c.get("plain_pick")]
    if plains:
        lines.append(f"     plain picks: misses {np.mean([p['miss_rate'] for p in plains]):.3f}, bitrate "
                     f"{np.mean([p['mean_bitrate_overspend_pct'] or 0 for p in plains]):+.1f}%")
    return lines


def bench_cross_conformal(corpora: Sequence[Path], workdir: Path, seeds: Sequence[int],
                          probes: Sequence[Path] = ()) -> None:
    print(f"\n== calibration, cross-conformal (each fold's margin from the other folds), seeds "
          f"{', '.join(map(str, seeds))}, means over seeds ==")
    for corpus in corpora:
        reports = [_batch(corpus, workdir / "calibration" / f"{corpus.stem}_seed{seed}", REPO_MODEL_DIR, seed,
                          probes=probes) for seed in seeds]
        print(f"-- {corpus.stem}: this model (cv-plus, what a PASS would ship)")
        print("\n".join(_mean_table(reports, lambda c: c.get("calibration"))))
        print(f"-- {corpus.stem}: the shipped stub (split conformal on every source)")
        print("\n".join(_mean_table(reports, lambda c: (c.get("incumbent") or {}).get("calibration"))))


def _batch(corpus: Path, out_dir: Path, model_dir: Path, seed: int, yes: bool = False,
           probes: Sequence[Path] = ()) -> dict:
    argv = [sys.executable, "-m", "trainer", "--corpus", str(corpus), "--seed", str(seed), "--out-dir", str(out_dir),
            "--model-dir", str(model_dir), *(["--yes"] if yes else []),
            *(arg for path in probes for arg in ("--harness-probes", str(path)))]
    done = subprocess.run(argv, capture_output=True, text=True)
    report = out_dir / "report.json"
    if done.returncode not in (0, 1) or not report.exists():
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return json.loads(report.read_text())


def _split(corpus: Path, split: int, workdir: Path, test_share: float) -> tuple[Path, Path]:
    """The corpus's rows in two files by source: a random ``test_share`` of the sources held back for testing."""
    lines = [line for line in corpus.read_bytes().splitlines() if line.strip()]
    sources = sorted({orjson.loads(line)["src"] for line in lines})
    rng = np.random.default_rng(1000 + split)
    n_test = max(1, round(len(sources) * test_share))
    chosen = set(rng.choice(sources, size=len(sources) - n_test, replace=False).tolist())
    paths = []
    for name, keep in (("calibrate", True), ("test", False)):
        path = workdir / f"split{split}_{name}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(line + b"\n" for line in lines if (orjson.loads(line)["src"] in chosen) == keep))
        paths.append(path)
    return paths[0], paths[1]


def score_as_harness(model_dir: Path, codec: str, test_corpus: Path, probes: Sequence[Path],
                     load: Callable[[Path, float], float]) -> dict[str, float] | None:
    """The shipped ONNX and sidecar on unseen clips: interval coverage and picks at target + offset."""
    sidecar = calibration_path(model_dir, codec)
    if not sidecar.exists():
        return None
    onnx_bytes = model_path(model_dir, codec).read_bytes()
    margin = load(sidecar, SPLIT_ALPHA)
    offset = next(p["target_offset_vmaf"] for p in json.loads(sidecar.read_text())["pick_offsets"]
                  if p["alpha"] == SPLIT_ALPHA)
    data = load_corpus([test_corpus]).for_codec(codec)
    features = data.features
    if probes:  # the harness's own probe of each clip, where it probed it
        quality = PROBE_QUALITY[codec] if data.probe_quality is None else data.probe_quality
        harness = load_harness_probes(list(probes)).for_codec(codec, data.sources, quality, PROBE_PRESET[codec]).probe
        rows = probed_rows(harness)
        features = features.copy()
        features[rows] = with_probe(features[rows], harness[rows])

    def predict(x: np.ndarray) -> np.ndarray:
        return ort_predict(onnx_bytes, x)[:, 0]

    in_band = data.target >= BAND_MIN_VMAF
    covered = np.abs(data.target[in_band] - predict(features[in_band])) <= margin
    kbps = data.encode_kbps if data.encode_kbps is not None else np.full(data.n_rows, np.nan)
    cases = pick_cases(pick_ladders(features, data.target, kbps, codec, predict, data.sources, data.ladders))
    plain, shifted = summary_at(cases, 0.0), summary_at(cases, offset)
    plain_miss, miss = (None if s is None else s["miss_rate"] for s in (plain, shifted))
    overspend = None if shifted is None else shifted["mean_bitrate_overspend_pct"]
    return {"margin": margin, "coverage": float(covered.mean()), "offset": offset,
            "plain_miss": float("nan") if plain_miss is None else plain_miss,
            "miss": float("nan") if miss is None else miss,
            "overspend": overspend or float("nan"), "picks": 0 if shifted is None else shifted["n"]}


def bench_as_harness(label: str, corpus: Path, codec: str, workdir: Path, splits: int, probes: Sequence[Path],
                     load: Callable[[Path, float], float], test_share: float = 0.5) -> None:
    """Measurement 2 of the module for one corpus: a line per split, then the means over the splits.

    Parameters
    ----------
    label : str
        The corpus's name in the printout and in ``workdir``.
    corpus : Path
        The JSONL corpus whose sources are split.
    codec : str
        The codec scored on the held-back clips.
    workdir : Path
        Scratch space: each split's halves, model directory and run.
    splits : int
        How many random splits (split k draws with seed 1000 + k).
    probes : sequence of Path
        The harness's own probe files (``--harness-probes``); empty: the corpus's probe inputs.
    load : callable
        Sidecar path and alpha to the interval half-width in VMAF (the harness's loader, or this rule).
    test_share : float
        The share of sources held back, 0 to 1.
    """
    results = []
    for split in range(splits):
        calibrate, test = _split(corpus, split, workdir / label, test_share)
        model_dir = workdir / label / f"model{split}"
        shutil.rmtree(model_dir, ignore_errors=True)
        shutil.copytree(REPO_MODEL_DIR, model_dir)
        # calibrated on what the harness serves: its own probe of the clips it probed
        report = _batch(calibrate, workdir / label / f"run{split}", model_dir, 0, yes=True, probes=probes)
        status = report["codecs"][0]["status"] if report["codecs"] else "?"
        scored = score_as_harness(model_dir, codec, test, probes, load)
        if scored is not None:
            results.append(scored)
            print(f"   split {split}: {status:<4} margin {scored['margin']:.2f} covers {scored['coverage']:.3f}; "
                  f"offset {scored['offset']:+.2f}: misses {scored['miss']:.3f} (plain {scored['plain_miss']:.3f}), "
                  f"bitrate {scored['overspend']:+.1f}% over {scored['picks']} picks")
        else:
            print(f"   split {split}: {status}: no sidecar written")
    if results:
        mean = {k: float(np.nanmean([r[k] for r in results])) for k in results[0]}
        print(f"-- {label}, {test_share:.0%} of sources held back: mean over {len(results)} splits: "
              f"alpha {SPLIT_ALPHA:g} interval covers "
              f"{mean['coverage']:.3f} of unseen in-band rows; picks at target + offset miss {mean['miss']:.3f} "
              f"(plain {mean['plain_miss']:.3f}) at {mean['overspend']:+.1f}% bitrate")


def bench_calibration(corpora: Sequence[Path], workdir: Path, probes: Sequence[Path], splits: int,
                      seeds: Sequence[int] = (0, 1, 2, 3, 4), test_shares: Sequence[float] = (0.5, 0.25)) -> None:
    """Both measurements of the module, printed.

    Parameters
    ----------
    corpora : sequence of Path
        The real corpora; those with quality ladders are also split as the harness would meet them.
    workdir : Path
        Scratch space for every run and the generated ladder corpus.
    probes : sequence of Path
        The harness's own probe files; empty: the corpora's probe inputs.
    splits : int
        Random splits per share held back.
    seeds : sequence of int
        The seeds of the cross-conformal tables.
    test_shares : sequence of float
        The shares of sources held back, 0 to 1, one set of splits each.
    """
    bench_cross_conformal(corpora, workdir, seeds, probes)
    name, load = harness_loader()
    for share in test_shares:
        print(f"\n== calibration as the harness reads it: {splits} random splits holding back {share:.0%} of the "
              f"sources; a --yes batch on the rest, the ONNX + sidecar scored on the held-back clips; sidecar loaded "
              f"with {name} ==")
        for corpus in corpora:
            laddered = any("crf" in orjson.loads(line) for line in corpus.read_bytes().splitlines()[:5] if line.strip())
            if laddered:
                print(f"-- {corpus.stem} (the kept stub: the gate fails on real sweeps)")
                bench_as_harness(corpus.stem, corpus, "libx264", workdir / "calibration", splits, probes, load, share)
        generated = write_ladder_corpus(workdir / "corpora" / "bpp_ladders_libx264.jsonl")
        print(f"-- {generated.stem} (generated, quality follows bits per pixel: a model promoted after a PASS)")
        bench_as_harness(generated.stem, generated, "libx264", workdir / "calibration", splits, (), load, share)


def write_ladder_corpus(path: Path, n_sources: int = 24, seed: int = 5) -> Path:
    """CRF ladders where quality follows bits per pixel (content complexity scales the bitrate), no generated
    flag: a corpus the gate passes, so the promoted model's own sidecar can be scored on unseen clips."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sources):
        width, height = ((1280, 720), (1920, 1080))[s % 2]
        complexity = rng.uniform(0.5, 2.0)
        for crf in range(16, 47, 2):
            bpp = 0.1 * complexity * np.exp(-0.11 * (crf - 28))
            vmaf = 100.0 / (1.0 + np.exp(-(np.log(bpp / np.sqrt(complexity)) + 3.3) * 1.6)) + rng.normal(0.0, 0.5)
            rows.append({"src": f"gen{s:02d}", "encoder": "libx264", "crf": crf, "width": width, "height": height,
                         "framerate": 24.0, "bitrate_kbps": round(float(bpp * width * height * 24.0 / 1000.0), 3),
                         "vmaf_score": round(float(np.clip(vmaf, 0.0, 100.0)), 4), "exit_status": 0})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    return path
