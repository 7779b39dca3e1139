"""Shipped synthetic stubs: one deterministic model + card per codec, from its analytical curve.

``python -m trainer --write-stubs [--model-dir DIR] [--codec NAME]...`` (or ``predictor-console --batch
--write-stubs``) regenerates them through the one option table; the seed comes from the codec name, and
training uses one torch thread, so a regeneration on one machine is byte-identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trainer.core.codecs import PROBE_QUALITY
from trainer.core.features import RAW_INDEX, project_features
from trainer.core.seeds import stable_seed
from trainer.ingest.corpus import CodecData
from trainer.ingest.probes import observed_inputs
from trainer.ingest.synthetic import CRF_RANGE, FRAMERATES, RESOLUTIONS, STUB_CURVES, base_kbps, stub_curve
from trainer.learning.metrics import plcc, rmse
from trainer.learning.profiles import DEFAULT_PROFILE
from trainer.learning.tasks import FinalTask, run_final_task
from trainer.shipping.apply import replace_set
from trainer.shipping.artifacts import calibration_path, card_path, model_path, sha256_bytes
from trainer.shipping.cards import CardFacts, harness_inputs_section, render_body, stub_block, with_status
from trainer.shipping.journal import recover
from trainer.shipping.lock import model_dir_lock
from trainer.shipping.onnx_export import build_onnx, graph_ops, ort_predict, validate_onnx

STUB_NOISE_SIGMA = 0.5
STUB_PROBE_ORIGIN = "none: the analytical sweep feeds each row's own bitrate (a stub has no probe ladder)"
BITRATE_FACTORS = (0.6, 1.0, 1.6)


def stub_training_data(codec: str) -> CodecData:
    """The sweep: CRF 18..45 x 4 resolutions x 24/30/60 fps x 3 bitrates, curve + small noise."""
    crf_ref = STUB_CURVES[codec][4]
    grid = np.array(
        [
            (crf, w, h, fps, factor)
            for crf in range(CRF_RANGE[0], CRF_RANGE[1] + 1)
            for (w, h) in RESOLUTIONS
            for fps in FRAMERATES
            for factor in BITRATE_FACTORS
        ],
        dtype=np.float64,
    )
    crf, width, height, fps, factor = grid.T
    kbps = base_kbps(width, fps, crf, crf_ref) * factor
    rng = np.random.default_rng(stable_seed("stub-noise", codec))
    vmaf = np.clip(stub_curve(codec, crf, kbps) + rng.normal(0.0, STUB_NOISE_SIGMA, crf.size), 0.0, 100.0)
    raw = np.full((crf.size, len(RAW_INDEX)), np.nan)
    columns = {"crf": crf, "probe_bitrate_kbps": kbps, "fps": fps, "width": width, "height": height}
    for name, column in columns.items():
        raw[:, RAW_INDEX[name]] = column
    return CodecData(
        codec=codec,
        features=project_features(raw),
        target=vmaf.astype(np.float32),
        sources=np.array(["analytical-sweep"] * crf.size),
        provenance=[],
        observed=observed_inputs(raw),
    )


def build_stub(codec: str) -> tuple[bytes, str]:
    """Train, export and validate one stub; returns (onnx bytes, card text)."""
    data = stub_training_data(codec)
    weights = run_final_task(FinalTask(codec, data.features, data.target, DEFAULT_PROFILE, stable_seed("stub", codec),
                                       data.observed))
    onnx_bytes = build_onnx(weights, codec)
    problems = validate_onnx(onnx_bytes, weights, data.features)
    if problems:
        raise RuntimeError(f"{codec}: stub failed its own ONNX checks: {'; '.join(problems)}")
    fitted = ort_predict(onnx_bytes, data.features)[:, 0]
    facts = CardFacts(
        codec=codec,
        corpus_kind=f"synthetic-stub-N={data.n_rows}",
        n_rows=data.n_rows,
        n_sources=None,
        data_files=[],
        metrics_lines=[
            "No LOSO evaluation: the stub has no real sources. Fit on its own sweep (training rows):",
            f"- PLCC {plcc(fitted, data.target):.4f}, RMSE {rmse(fitted, data.target):.3f} VMAF",
        ],
        ops_used=graph_ops(onnx_bytes),
        onnx_sha256=sha256_bytes(onnx_bytes),
        onnx_bytes=len(onnx_bytes),
        stub=True,
        harness_lines=harness_inputs_section(codec, PROBE_QUALITY[codec], weights.w1[0], STUB_PROBE_ORIGIN),
    )
    return onnx_bytes, with_status(render_body(facts), stub_block())


def write_stubs(model_dir: Path, codecs: Sequence[str], backup_root: Path, stamp: str) -> tuple[list[Path], Path]:
    """Write each codec's stub as one journalled set, backing up what it overwrites like a promotion.

    Returns the files written and the backup directory (``--restore <its name>`` undoes it).
    """
    import torch  # trains here, in this process: one thread, as a pool worker, gives the same bytes every run

    torch.set_num_threads(1)
    with model_dir_lock(model_dir, purpose="write-stubs"):  # taken first: a busy directory fails before training
        writes: dict[str, bytes | None] = {}
        for codec in codecs:
            onnx_bytes, card = build_stub(codec)
            writes[model_path(model_dir, codec).name] = onnx_bytes
            writes[card_path(model_dir, codec).name] = card.encode("utf-8")
            # A new stub has no calibration: a sidecar left from the model it replaces would be trusted.
            writes[calibration_path(model_dir, codec).name] = None
        recover(model_dir)
        backup_dir = replace_set(model_dir, writes, backup_root, stamp, "write-stubs")
    return [model_dir / name for name, data in writes.items() if data is not None], backup_dir
