"""Deterministic synthetic corpora: stub training data, smoke runs, the demo corpus, benchmarks, tests.

The VMAF target follows each codec's analytical stub curve, shifted by a per-source content
penalty that the row's own content features reveal, so LOSO can generalise across sources
exactly as far as the noise level allows.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from trainer.core.codecs import HARNESS_CURVE_COEFFS, PROBE_QUALITY
from trainer.core.seeds import stable_seed

# (a, b, c, d, crf_ref): vmaf = a - b*D - c*D^2 + d*log10(max(kbps, 1)), D = crf - crf_ref.
STUB_CURVES = HARNESS_CURVE_COEFFS  # the generated corpora follow the harness's own curve (core.codecs)

RESOLUTIONS = ((854, 480), (1280, 720), (1920, 1080), (3840, 2160))
FRAMERATES = (24.0, 30.0, 60.0)
CRF_RANGE = (18, 45)


def stub_curve(codec: str, crf: np.ndarray, kbps: np.ndarray) -> np.ndarray:
    a, b, c, d, crf_ref = STUB_CURVES[codec]
    delta = np.asarray(crf, dtype=np.float64) - crf_ref
    return a - b * delta - c * delta**2 + d * np.log10(np.maximum(kbps, 1.0))


def base_kbps(width: np.ndarray, fps: np.ndarray, crf: np.ndarray, crf_ref: float) -> np.ndarray:
    pixels_per_s = width * (width * 9 / 16) * fps
    return pixels_per_s * 0.00006 * np.exp(-(crf - crf_ref) * 0.11)


def synthetic_columns(
    codec: str, n_sources: int, rows_per_source: int, noise_sigma: float, seed: int
) -> dict[str, np.ndarray]:
    """Columns of a multi-source corpus for one codec (deterministic in all arguments)."""
    rng = np.random.default_rng(stable_seed("synthetic", codec, n_sources, rows_per_source, noise_sigma, seed))
    _a, _b, _c, _d, crf_ref = STUB_CURVES[codec]
    n = n_sources * rows_per_source
    src_id = np.repeat(np.arange(n_sources), rows_per_source)
    complexity = rng.uniform(0.0, 1.0, n_sources)[src_id]
    brightness = rng.uniform(60.0, 180.0, n_sources)[src_id]
    crf = rng.integers(CRF_RANGE[0], CRF_RANGE[1] + 1, n).astype(np.float64)
    res = rng.integers(0, len(RESOLUTIONS), n)
    width = np.array([r[0] for r in RESOLUTIONS], dtype=np.float64)[res]
    height = np.array([r[1] for r in RESOLUTIONS], dtype=np.float64)[res]
    fps = np.array(FRAMERATES)[rng.integers(0, len(FRAMERATES), n)]
    kbps = base_kbps(width, fps, crf, crf_ref) * (0.6 + complexity) * rng.uniform(0.85, 1.15, n)
    frame_diff = complexity * 20.0 + rng.normal(0.0, 0.3, n)
    content_penalty = 8.0 * complexity
    vmaf = stub_curve(codec, crf, kbps) - content_penalty + rng.normal(0.0, noise_sigma, n)
    return {
        "src": np.array([f"{codec}_src{i:03d}" for i in range(n_sources)], dtype=object)[src_id],
        "crf": crf,
        "bitrate_kbps": np.round(kbps, 2),
        "framerate": fps,
        "width": width,
        "height": height,
        "frame_diff_mean": np.round(frame_diff, 4),
        "y_avg": np.round(brightness + rng.normal(0.0, 1.0, n), 3),
        "duration_s": np.full(n, 10.0),
        "vmaf_score": np.round(np.clip(vmaf, 0.0, 100.0), 4),
    }


def synthetic_rows(
    codec: str, n_sources: int, rows_per_source: int, noise_sigma: float, seed: int, mark_generated: bool = True
) -> Iterator[dict[str, object]]:
    """The same corpus as JSON-ready rows in the Phase-A schema.

    Rows carry ``"synthetic": true`` unless ``mark_generated`` is off (tests that stand in for a
    real ingest); marked rows can pass the gate but never promote a model.

    Parameters
    ----------
    codec : str
        The codec whose stub curve the VMAF follows.
    n_sources : int
        Distinct sources (each with its own content complexity and brightness).
    rows_per_source : int
        Encodes per source.
    noise_sigma : float
        Standard deviation of the Gaussian noise on VMAF, in VMAF points.
    seed : int
        With the other arguments, fixes every number.
    mark_generated : bool
        Whether each row carries ``"synthetic": true``.
    """
    cols = synthetic_columns(codec, n_sources, rows_per_source, noise_sigma, seed)
    keys = list(cols)
    for i in range(len(cols["src"])):
        row: dict[str, object] = {"encoder": codec, "exit_status": 0}
        if mark_generated:
            row["synthetic"] = True
        for key in keys:
            value = cols[key][i]
            row[key] = value if isinstance(value, str) else float(value)
        yield row


def synthetic_codec_data(codec: str, n_sources: int, rows_per_source: int, noise_sigma: float, seed: int,
                         probe_quality: float | None = None):
    """The same corpus as a training table, without a JSONL round trip (smoke runs, stubs, tests).

    Parameters
    ----------
    codec, n_sources, rows_per_source, noise_sigma, seed : as in ``synthetic_rows``
        The codec whose curve VMAF follows, distinct sources, encodes per source, the VMAF noise's standard
        deviation (VMAF points) and the seed that with them fixes every number.
    probe_quality : float, optional
        The quality the probe inputs are read at; None: the codec's harness default.
    """
    from trainer.core.features import project_features
    from trainer.ingest.columns import FIELD_KEYS
    from trainer.ingest.corpus import CodecData
    from trainer.ingest.probes import observed_inputs, with_probe_inputs

    cols = synthetic_columns(codec, n_sources, rows_per_source, noise_sigma, seed)
    n = len(cols["src"])
    raw = np.full((n, len(FIELD_KEYS)), np.nan)
    for j, keys in enumerate(FIELD_KEYS):
        for key in keys:
            if key in cols:
                raw[:, j] = cols[key]
                break
    sources = cols["src"].astype(str)
    probe_quality = PROBE_QUALITY[codec] if probe_quality is None else probe_quality
    raw, probe = with_probe_inputs(raw, sources, probe_quality)
    return CodecData(
        codec=codec,
        features=project_features(raw),
        target=cols["vmaf_score"].astype(np.float32),
        sources=sources,
        provenance=[{"path": f"<synthetic:{codec}:{n_sources}x{rows_per_source}:sigma={noise_sigma}>", "rows": n}],
        n_generated=n,
        observed=observed_inputs(raw),
        probe=probe,
        probe_quality=float(probe_quality),
        encode_kbps=cols["bitrate_kbps"].astype(np.float32),
    )
