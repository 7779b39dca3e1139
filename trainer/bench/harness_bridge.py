"""The encoder harness (vmaf-tune), imported from a checkout the operator names, and its pieces called directly.

The harness is never copied into this repository: ``load_harness`` puts the checkout's ``src`` folder on
``sys.path`` and imports ``vmaftune`` from there. Its ``predict`` subcommand cannot run as published
(two TypeErrors before it loads a model, docs/harness.md), so the bench calls the pieces that
subcommand would call -- ``extract_features``, ``Predictor(model_path=...)``, ``pick_crf``,
``EncodeRequest``/``run_encode`` -- unchanged, through the ``runner`` seam the feature extraction
already takes. The runner answers the harness's ffprobe question from ``ffmpeg -i`` (the static
ffmpeg has no ffprobe) and reads the probe's ``-vstats_file`` before the harness deletes it, which is
where the probe's real bitrate is: ffmpeg prints ``bitrate=N/A`` for the ``-f null`` output the probe
writes, so the harness itself gets 0 kbps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from trainer.bench.encode_media import Geometry, ProbeTotals, clip_geometry, parse_vstats

# Where a checkout keeps the package: the vmaf repository's layout first, then a vmaf-tune folder, then src itself.
SOURCE_FOLDERS = ("tools/vmaf-tune/src", "src", ".")
MODULES = ("predictor", "predictor_features", "per_shot", "encode")
# The harness asks this name for the clip's geometry; the runner answers it (it is never run).
FFPROBE_STAND_IN = "ffprobe-answered-from-ffmpeg"
ENCODE_PRESET = "medium"  # what predict encodes its validation shots with (cli.py:1453)
PIX_FMT = "yuv420p"  # predict's reference format (cli.py:1391)


class HarnessNotFound(RuntimeError):
    """The path given as --harness holds no importable vmaftune package."""


@dataclass(frozen=True)
class Harness:
    source: Path
    modules: dict[str, ModuleType]
    files_sha256: dict[str, str]  # the harness files whose code the bench runs, as found at the path

    def __getattr__(self, name: str) -> ModuleType:
        try:
            return self.modules[name]
        except KeyError:
            raise AttributeError(name) from None


def harness_source(path: Path) -> Path:
    for folder in SOURCE_FOLDERS:
        candidate = (path / folder).resolve()
        if (candidate / "vmaftune" / "predictor_features.py").is_file():
            return candidate
    raise HarnessNotFound(f"{path}: no vmaftune package (looked in {', '.join(SOURCE_FOLDERS)}); pass a checkout of "
                          "github:lusoris/vmaf, e.g. `git archive c2a3c7e0 tools/vmaf-tune | tar -x -C DIR`")


def load_harness(path: Path) -> Harness:
    """Import vmaftune from ``path``; refuse a vmaftune already imported from somewhere else."""
    source = harness_source(path)
    loaded = sys.modules.get("vmaftune")
    if loaded is not None and Path(loaded.__file__ or "").resolve().parent.parent != source:
        raise HarnessNotFound(f"vmaftune is already imported from {loaded.__file__}, not from {source}")
    if str(source) not in sys.path:
        sys.path.insert(0, str(source))
    modules = {name: importlib.import_module(f"vmaftune.{name}") for name in MODULES}
    digests = {f"{name}.py": hashlib.sha256((source / "vmaftune" / f"{name}.py").read_bytes()).hexdigest()
               for name in MODULES}
    return Harness(source, modules, digests)


class HarnessRunner:
    """The subprocess runner handed to ``extract_features``: runs ffmpeg, answers ffprobe, keeps the probe's sizes."""

    def __init__(self, ffmpeg: str) -> None:
        self.ffmpeg = ffmpeg
        self.probe: ProbeTotals | None = None
        self.probe_argv: list[str] = []
        self.probe_stderr_tail = ""
        self.probe_vstats = ""

    def __call__(self, cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if cmd[0] == FFPROBE_STAND_IN:
            geometry = clip_geometry(self.ffmpeg, Path(cmd[-1]))
            payload = {"streams": [{"width": geometry.width, "height": geometry.height,
                                    "r_frame_rate": f"{geometry.fps}"}]}
            return subprocess.CompletedProcess(cmd, 0, json.dumps(payload), "")
        done = subprocess.run(cmd, **kwargs)
        if "-vstats_file" in cmd:  # the probe encode (predictor_features.py:226-243)
            vstats = Path(cmd[cmd.index("-vstats_file") + 1])
            self.probe_vstats = vstats.read_text(encoding="utf-8", errors="replace") if vstats.exists() else ""
            self.probe = parse_vstats(self.probe_vstats)
            self.probe_argv = [Path(cmd[0]).name, *cmd[1:]]
            self.probe_stderr_tail = (done.stderr or "")[-400:]
        return done


def extract(harness: Harness, ffmpeg: str, clip: Path, frames: int, codec: str) -> tuple[Any, HarnessRunner]:
    """The harness's own feature extraction of the shot [0, frames) of ``clip`` (signalstats on, no saliency)."""
    runner = HarnessRunner(ffmpeg)
    config = harness.predictor_features.FeatureExtractorConfig(ffmpeg_bin=ffmpeg, ffprobe_bin=FFPROBE_STAND_IN)
    features = harness.predictor_features.extract_features(harness.per_shot.Shot(0, frames), clip, codec,
                                                           config=config, runner=runner)
    if runner.probe is None or runner.probe.frames == 0:
        raise RuntimeError(f"{clip}: the harness's probe encode wrote no frame sizes ({runner.probe_stderr_tail})")
    return features, runner


def with_bitrate(features: Any, kbps: float) -> Any:
    return dataclasses.replace(features, probe_bitrate_kbps=kbps)


def predictor(harness: Harness, model: Path | None) -> Any:
    """``Predictor(model_path=...)`` as predict builds it (cli.py:1393); ``None`` is the analytical curve."""
    made = harness.predictor.Predictor(model_path=model)
    if model is not None and made._onnx_session is None:  # the harness would silently use its curve
        raise RuntimeError(f"the harness did not load {model} (no onnxruntime where it runs?)")
    return made


def pick(harness: Harness, made: Any, features: Any, target: float, codec: str) -> int:
    return int(harness.predictor.pick_crf(made, features, target, codec))


def encode(harness: Harness, ffmpeg: str, reference: Path, geometry: Geometry, codec: str, crf: int,
           output: Path) -> int:
    """One encode at ``crf`` with predict's settings, through the harness's own command builder; its size in bytes.

    Parameters
    ----------
    harness : Harness
        The imported harness modules.
    ffmpeg : str
        The ffmpeg executable.
    reference : Path
        The raw yuv420p window encoded.
    geometry : Geometry
        Its width and height (pixels) and frame rate (frames/s).
    codec : str
        The encoder.
    crf : int
        The quality to encode at.
    output : Path
        Where the encode is written.
    """
    request = harness.encode.EncodeRequest(source=reference, width=geometry.width, height=geometry.height,
                                           pix_fmt=PIX_FMT, framerate=geometry.fps, encoder=codec,
                                           preset=ENCODE_PRESET, crf=crf, output=output)
    result = harness.encode.run_encode(request, ffmpeg_bin=ffmpeg)
    if result.exit_status != 0 or result.encode_size_bytes <= 0:
        raise RuntimeError(f"encode at CRF {crf} failed: {result.stderr_tail[-400:]}")
    return int(result.encode_size_bytes)
