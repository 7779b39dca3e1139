"""Small ladder corpora written as a real ingest writes them (no generated flag), for whole-run tests.

``bpp_ladder_rows``: quality follows bits per pixel: each source has a content complexity that
scales its bitrate at every CRF, and VMAF is a smooth function of the encode's bits per pixel, so
the probe bitrate of a ladder tells the model how hard its content is. ``crf_ladder_rows``: the
same law with three resolutions per source (three ladders) over a wide CRF range, where VMAF
saturates at the top and the bottom. ``constant_quality_rows``: the opposite, CRF alone decides
quality. Deterministic in their arguments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

RESOLUTIONS = ((1280, 720), (1920, 1080))


def bpp_ladder_rows(codec: str = "libx264", n_sources: int = 10, crfs: range = range(18, 46, 3),
                    seed: int = 0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sources):
        width, height = RESOLUTIONS[s % len(RESOLUTIONS)]
        fps = 24.0
        complexity = rng.uniform(0.5, 2.0)
        for crf in crfs:
            bpp = 0.1 * complexity * np.exp(-0.11 * (crf - 28))
            kbps = bpp * width * height * fps / 1000.0
            quality_bpp = bpp / np.sqrt(complexity)  # harder content spends more bits for less quality
            vmaf = 100.0 / (1.0 + np.exp(-(np.log(quality_bpp) + 3.3) * 1.6)) + rng.normal(0.0, 0.2)
            rows.append({"src": f"clip{s:02d}", "encoder": codec, "crf": crf, "width": width, "height": height,
                         "framerate": fps, "bitrate_kbps": round(float(kbps), 3),
                         "vmaf_score": round(float(np.clip(vmaf, 0.0, 100.0)), 4), "exit_status": 0})
    return rows


LADDER_RESOLUTIONS = ((960, 540), (1280, 720), (1920, 1080))


def crf_ladder_rows(codec: str = "libx264", n_sources: int = 12, crfs: range = range(16, 47, 2),
                    seed: int = 0, offset_sigma: float = 1.0) -> list[dict[str, object]]:
    """Three ladders (resolutions) per source over CRF 16..46, quality following bits per pixel (issue #29).

    A smaller picture spends more bits per pixel at one CRF (bpp grows as pixels^-0.2), VMAF follows
    the bits-per-pixel curve of ``bpp_ladder_rows`` but below a ceiling that a downscaled ladder
    cannot pass (VMAF is measured at the source's size: 94 at 540p, 96 at 720p, 100 at 1080p), and
    each source has an offset (sigma ``offset_sigma`` VMAF) that no input explains. The curve the harness searches
    then flattens towards its ceiling at low CRF and bends at the bottom: neither end is a straight
    line in logit.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sources):
        fps = float(rng.choice([24.0, 30.0]))
        complexity = rng.uniform(0.5, 2.0)
        offset = rng.normal(0.0, offset_sigma)
        for width, height in LADDER_RESOLUTIONS:
            share = width * height / (1920 * 1080)
            ceiling = 100.0 - 12.0 * (1.0 - np.sqrt(share))
            for crf in crfs:
                bpp = 0.1 * complexity * share**-0.2 * np.exp(-0.11 * (crf - 28))
                kbps = bpp * width * height * fps / 1000.0
                quality_bpp = bpp / np.sqrt(complexity)
                curve = ceiling / (1.0 + np.exp(-(np.log(quality_bpp) + 3.3) * 1.6))
                vmaf = curve + offset + rng.normal(0.0, 0.3)
                rows.append({"src": f"clip{s:02d}", "encoder": codec, "crf": crf, "width": width, "height": height,
                             "framerate": fps, "bitrate_kbps": round(float(kbps), 3),
                             "vmaf_score": round(float(np.clip(vmaf, 0.0, 100.0)), 4), "exit_status": 0})
    return rows


def write_rows(path: Path, rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def constant_quality_rows(codec: str = "libx264", n_sources: int = 12, crfs: range = range(18, 46, 3),
                          seed: int = 0, offset_sigma: float = 1.5) -> list[dict[str, object]]:
    """CRF as real encoders behave: close to constant quality whatever the content.

    Every source's bitrate follows its content complexity, resolution and frame rate (so the probe
    inputs vary a lot), but VMAF is one curve of CRF for all of them plus a per-source offset that
    no input explains: a model that reads the content inputs can only learn noise from them.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sources):
        width, height = RESOLUTIONS[s % len(RESOLUTIONS)]
        fps = float(rng.choice([24.0, 25.0, 30.0, 50.0]))
        complexity = rng.uniform(0.3, 3.0)
        offset = rng.normal(0.0, offset_sigma)
        for crf in crfs:
            kbps = 0.1 * complexity * np.exp(-0.11 * (crf - 28)) * width * height * fps / 1000.0
            vmaf = 100.0 / (1.0 + np.exp(0.2 * (crf - 36))) + offset + rng.normal(0.0, 0.3)
            rows.append({"src": f"clip{s:02d}", "encoder": codec, "crf": crf, "width": width, "height": height,
                         "framerate": fps, "bitrate_kbps": round(float(kbps), 3),
                         "vmaf_score": round(float(np.clip(vmaf, 0.0, 100.0)), 4), "exit_status": 0})
    return rows
