"""ffmpeg for the real-encode section: where the binary comes from, and parsing what it prints.

The binary is the static build the optional ``encode`` extra installs (``imageio-ffmpeg``: libx264,
libx265, libsvtav1 and the libvmaf filter), so no host needs a hand-built ffmpeg. That build has no
ffprobe, which the harness asks for the clip's geometry, so the geometry is read from ``ffmpeg -i``.
The parsers are pure functions: the tests feed them recorded output, never a live ffmpeg.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

VMAF_MODEL = "vmaf_v0.6.1"
# "Stream #0:0[0x1](eng): Video: h264 (High) ..., yuv420p(progressive), 640x360 [SAR 1:1 DAR 16:9], ...,
# 29.83 fps, 29.83 tbr, ..." -- tbr is the stream's r_frame_rate, the rate ffprobe would report.
_VIDEO_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: .*?(?<![0-9])(\d{2,5})x(\d{2,5})(?![0-9]).*?"
                           r"(\d+(?:\.\d+)?) tbr")
_VSTATS_SIZE = re.compile(r"(?:^|\s)(?:f_)?size=\s*(\d+)")  # f_size= (ffmpeg 7+) or size=, never s_size=
_VSTATS_TYPE = re.compile(r"type=\s*(\w)")


class EncodeToolMissing(RuntimeError):
    """The encode section needs ffmpeg from the optional extra (or --ffmpeg PATH)."""


@dataclass(frozen=True)
class Geometry:
    width: int
    height: int
    fps: float


@dataclass(frozen=True)
class ProbeTotals:
    """What the probe encode really spent, from its ``-vstats_file``: one line per coded frame."""

    frames: int
    total_bytes: int
    frame_types: str  # e.g. "IPPP..."; the recovery formula assumes one I and no B

    def kbps(self, fps: float) -> float:
        return 8.0 * self.total_bytes * fps / self.frames / 1000.0 if self.frames else 0.0


def ffmpeg_exe(explicit: str | None = None) -> str:
    """``explicit`` if given, else the optional extra's static build; a clear error without either."""
    if explicit:
        return explicit
    try:
        import imageio_ffmpeg
    except ImportError as err:
        raise EncodeToolMissing("the encode section needs ffmpeg with libvmaf: pip install -e '.[encode]' "
                                "(imageio-ffmpeg), or pass --ffmpeg PATH") from err
    return imageio_ffmpeg.get_ffmpeg_exe()


def parse_geometry(stderr: str) -> Geometry:
    """Width, height and frame rate of the first video stream in ``ffmpeg -i`` output."""
    match = _VIDEO_STREAM.search(stderr)
    if match is None:
        raise ValueError("no video stream with a size and a frame rate in ffmpeg's output")
    width, height, rate = int(match.group(1)), int(match.group(2)), float(match.group(3))
    if rate <= 0:
        raise ValueError(f"video stream has frame rate {rate}")
    return Geometry(width, height, rate)


def parse_vstats(text: str) -> ProbeTotals:
    """Frames, bytes and frame types of an ffmpeg ``-vstats_file`` (``f_size=`` in ffmpeg 7+, ``size=`` before)."""
    sizes, types = [], []
    for line in text.splitlines():
        size, kind = _VSTATS_SIZE.search(line), _VSTATS_TYPE.search(line)
        if size and kind:
            sizes.append(int(size.group(1)))
            types.append(kind.group(1))
    return ProbeTotals(len(sizes), sum(sizes), "".join(types))


def parse_libvmaf_log(payload: dict) -> float:
    """The pooled mean VMAF of a libvmaf JSON log (the filter's and the CLI's share the layout)."""
    try:
        return float(payload["pooled_metrics"]["vmaf"]["mean"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError("libvmaf log has no pooled_metrics.vmaf.mean") from err


def ffmpeg_version(ffmpeg: str) -> str:
    out = subprocess.run([ffmpeg, "-hide_banner", "-version"], capture_output=True, text=True, check=False)
    return (out.stdout.splitlines() or ["unknown"])[0]


def clip_geometry(ffmpeg: str, clip: Path) -> Geometry:
    out = subprocess.run([ffmpeg, "-hide_banner", "-i", str(clip)], capture_output=True, text=True, check=False)
    try:
        return parse_geometry(out.stderr)
    except ValueError as err:
        raise ValueError(f"{clip}: {err}") from None


def extract_reference(ffmpeg: str, clip: Path, frames: int, out: Path, geometry: Geometry) -> int:
    """The window as raw yuv420p, as the harness's predict extracts it (cli.py:1424-1441); its frame count."""
    cmd = [ffmpeg, "-y", "-hide_banner", "-loglevel", "error", "-ss", "0.000000", "-i", str(clip),
           "-frames:v", str(frames), "-pix_fmt", "yuv420p", "-f", "rawvideo", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"{clip}: reference extraction failed: {done.stderr[-400:]}")
    frame_bytes = geometry.width * geometry.height * 3 // 2
    return out.stat().st_size // frame_bytes


def score_vmaf(ffmpeg: str, reference: Path, distorted: Path, geometry: Geometry, log: Path,
               threads: int = 2) -> float:
    """libvmaf (vmaf_v0.6.1) of ``distorted`` against the raw reference, at the reference's resolution.

    Parameters
    ----------
    ffmpeg : str
        The ffmpeg executable (with libvmaf).
    reference : Path
        The raw yuv420p window the encode was made from.
    distorted : Path
        The encode to score.
    geometry : Geometry
        The reference's width and height (pixels) and frame rate (frames/s).
    log : Path
        Where libvmaf writes its JSON log, read back for the score.
    threads : int
        libvmaf's ``n_threads``.
    """
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(distorted),
           "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{geometry.width}x{geometry.height}",
           "-r", f"{geometry.fps}", "-i", str(reference),
           "-lavfi", f"[0:v][1:v]libvmaf=model=version={VMAF_MODEL}:log_fmt=json:log_path={log}:n_threads={threads}",
           "-f", "null", "-"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not log.exists():
        raise RuntimeError(f"libvmaf failed on {distorted}: {done.stderr[-400:]}")
    return parse_libvmaf_log(json.loads(log.read_text(encoding="utf-8")))
