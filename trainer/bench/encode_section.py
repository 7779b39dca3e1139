"""The encode section: a pick checked with a real encode, as the harness would make it, outside the tests.

For each clip of a folder (its first ``frames`` frames as one shot): the harness's own feature extraction
(probe encode + signalstats), its ``pick_crf`` for each target with our model and with its analytical
curve, both on the features as the harness really returns them (probe bitrate 0, docs/harness.md) and
with the probe's measured bitrate; then a CRF sweep and every pick encoded with predict's settings
(preset medium, from raw yuv420p) and scored with libvmaf vmaf_v0.6.1. What was measured is written
as one JSON record (the tests' fixture is such a record), then scored by encode_scoring.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from trainer.bench.encode_media import (
    VMAF_MODEL,
    clip_geometry,
    extract_reference,
    ffmpeg_exe,
    ffmpeg_version,
    score_vmaf,
)
from trainer.bench.encode_scoring import CURVE, table_lines
from trainer.bench.harness_bridge import ENCODE_PRESET, Harness, extract, load_harness, pick, predictor, with_bitrate
from trainer.bench.harness_bridge import encode as harness_encode
from trainer.core.atomic import atomic_write_text

CLIP_SUFFIXES = {".mp4", ".mkv", ".mov", ".webm", ".avi", ".y4m", ".ts"}
DEFAULT_TARGETS = (85.0, 90.0, 93.0, 95.0)
DEFAULT_CRFS = tuple(range(16, 46))


def find_clips(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"--clips {folder}: not a folder")
    clips = sorted(p for p in folder.iterdir() if p.suffix.lower() in CLIP_SUFFIXES and p.is_file())
    if not clips:
        raise FileNotFoundError(f"--clips {folder}: no video files ({', '.join(sorted(CLIP_SUFFIXES))})")
    return clips


def model_path(model_dir: Path, codec: str) -> Path:
    path = model_dir / f"predictor_{codec}.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"--model-dir {model_dir}: no predictor_{codec}.onnx")
    return path


def measure_clip(harness: Harness, ffmpeg: str, clip: Path, codec: str, frames: int, crfs: Sequence[int],
                 models: dict[str, Path | None], targets: Sequence[float], scratch: Path) -> dict:
    """Everything the section measures on one clip, as plain JSON values.

    Parameters
    ----------
    harness : Harness
        The imported harness modules.
    ffmpeg : str
        The ffmpeg executable.
    clip : Path
        The clip measured.
    codec : str
        The encoder.
    frames : int
        The shot: the first ``frames`` frames of the clip.
    crfs : sequence of int
        The CRF sweep encoded, beside every CRF a model picks.
    models : dict of str to Path or None
        Name to ONNX model; None is the harness's analytical curve.
    targets : sequence of float
        The VMAF targets the picks are asked for.
    scratch : Path
        A folder for the raw reference, encodes and libvmaf logs.
    """
    geometry = clip_geometry(ffmpeg, clip)
    reference = scratch / "reference.yuv"
    n = extract_reference(ffmpeg, clip, frames, reference, geometry)
    features, runner = extract(harness, ffmpeg, clip, n, codec)
    probe = runner.probe
    assert probe is not None  # extract refuses a probe encode that wrote no frame sizes
    measured_kbps = probe.kbps(features.fps)
    variants = {"published": features, "measured": with_bitrate(features, measured_kbps)}
    made = {name: predictor(harness, path) for name, path in models.items()}
    picks = {name: {variant: {f"{t:g}": pick(harness, model, feats, t, codec) for t in targets}
                    for variant, feats in variants.items()}
             for name, model in made.items()}
    wanted = sorted(set(crfs) | {c for by_variant in picks.values() for p in by_variant.values() for c in p.values()})
    encodes = {}
    for crf in wanted:
        out = scratch / f"crf{crf}.mp4"
        size = harness_encode(harness, ffmpeg, reference, geometry, codec, crf, out)
        vmaf = score_vmaf(ffmpeg, reference, out, geometry, scratch / f"crf{crf}.json")
        encodes[str(crf)] = {"vmaf": round(vmaf, 4), "kbps": round(8.0 * size * geometry.fps / n / 1000.0, 3)}
        out.unlink()
    return {"name": clip.name, "width": geometry.width, "height": geometry.height, "fps": geometry.fps,
            "frames": n, "features": {k: getattr(features, k) for k in features.__dataclass_fields__},
            "probe": {"argv": runner.probe_argv, "stderr_tail": runner.probe_stderr_tail,
                      "vstats": runner.probe_vstats, "frames": probe.frames,
                      "total_bytes": probe.total_bytes, "frame_types": probe.frame_types,
                      "measured_kbps": round(measured_kbps, 3)},
            "sweep": list(crfs), "picks": picks, "encodes": encodes}


def run_encode_bench(clips_dir: Path, codec: str, model_dirs: Sequence[Path], harness_path: Path, workdir: Path,
                     frames: int, crfs: Sequence[int], targets: Sequence[float], ffmpeg: str | None = None) -> dict:
    """Measure every clip and write the record to ``workdir/encode/<codec>.json``; returns the record.

    Parameters
    ----------
    clips_dir : Path
        The folder of clips to measure.
    codec : str
        The encoder every encode and model is for.
    model_dirs : sequence of Path
        Model directories whose ``codec`` model the harness picks with; its analytical curve is always added.
    harness_path : Path
        The harness checkout whose feature extraction, encode command and pick_crf are imported.
    workdir : Path
        Where the record (``encode/<codec>.json``) and the scratch files go.
    frames : int
        The shot: the first ``frames`` frames of each clip.
    crfs : sequence of int
        The CRF sweep encoded on every clip, beside every CRF a model picks.
    targets : sequence of float
        The VMAF targets the picks are asked for.
    ffmpeg : str or None
        The ffmpeg executable; None: the optional encode extra's build.
    """
    clips = find_clips(clips_dir)
    models: dict[str, Path | None] = {str(model_path(d, codec)): model_path(d, codec) for d in model_dirs}
    models[CURVE] = None
    harness = load_harness(harness_path)
    exe = ffmpeg_exe(ffmpeg)
    scratch = workdir / "encode" / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    record: dict = {"codec": codec, "preset": ENCODE_PRESET, "vmaf_model": VMAF_MODEL, "targets": list(targets),
                    "ffmpeg": ffmpeg_version(exe), "harness": {"path": str(harness_path),
                                                               "files_sha256": harness.files_sha256},
                    "models": {name: _sha256(path) for name, path in models.items() if path is not None},
                    "date": time.strftime("%Y-%m-%d", time.gmtime()), "clips": []}
    started = time.perf_counter()
    try:
        for clip in clips:
            record["clips"].append(measure_clip(harness, exe, clip, codec, frames, crfs, models, targets, scratch))
            print(f"  {clip.name}: {len(record['clips'][-1]['encodes'])} encodes, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    record["wall_s"] = round(time.perf_counter() - started, 1)
    atomic_write_text(workdir / "encode" / f"{codec}.json", json.dumps(record, indent=1) + "\n")
    return record


def print_encode_record(record: dict, source: str) -> None:
    print(f"\n== encode: the harness's pick_crf checked with real encodes ({record['codec']} preset "
          f"{record['preset']}, libvmaf {record['vmaf_model']}; {source}) ==")
    print(f"ffmpeg: {record['ffmpeg']}; harness: {record['harness']['path']}; recorded {record['date']}"
          + (f", {record['wall_s']} s" if "wall_s" in record else ""))
    for clip in record["clips"]:
        probe = clip["probe"]
        print(f"  {clip['name']}: {clip['width']}x{clip['height']} {clip['fps']:g} fps, {clip['frames']} frames; "
              f"probe {probe['frame_types'][:1]}+{len(probe['frame_types']) - 1} frames, the harness read "
              f"{clip['features']['probe_bitrate_kbps']:g} kbps, measured {probe['measured_kbps']:.1f} kbps")
    print("\n".join(table_lines(record)))
    sys.stdout.flush()


def replay_encode(path: Path) -> None:
    """Print the table of a recorded run (no ffmpeg, no harness needed)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"--encode-record {path}: {err}") from None
    print_encode_record(record, f"replayed from {path}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
