"""The published harness sends its probe bitrate as 0 (issue #40): every graph we ship recovers it from the
frame sizes the harness does send, so its picks at 0 kbps are its picks at the measured bitrate."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from trainer.core.codecs import SUPPORTED_CODECS
from trainer.core.features import FEATURE_NAMES, N_FEATURES
from trainer.ingest.corpus import load_corpus
from trainer.learning.model import fit
from trainer.learning.profiles import DEFAULT_PROFILE
from trainer.shipping.artifacts import model_path
from trainer.shipping.onnx_export import OP_ALLOWLIST, build_onnx, graph_ops, ort_predict

DATA = Path(__file__).resolve().parent / "data"
REPO_MODEL_DIR = Path(__file__).resolve().parents[1] / "model"
COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}
SAME_PICK_VMAF = 0.05  # the bound, at every CRF 0-51


def _probe_rows() -> list[np.ndarray]:
    """Per clip of the bundled sweep subset: its harness probe at every CRF 0-51, as the harness feeds it
    (measured bitrate and frame sizes, the clip's frame count, fps and size; no B-frames, no saliency)."""
    clips = {}
    for line in (DATA / "crfsweep_libx264_subset.jsonl").read_text().splitlines():
        row = json.loads(line)
        clips[row["src"]] = (row["n_frames"], row["framerate"], row["width"], row["height"])
    sweeps = []
    for line in (DATA / "crfsweep_probe_libx264.jsonl").read_text().splitlines():
        probe = json.loads(line)
        if probe["src"] not in clips:
            continue
        n_frames, fps, width, height = clips[probe["src"]]
        x = np.zeros((52, N_FEATURES), dtype=np.float32)
        x[:, COLUMN["crf"]] = np.arange(52)
        for name in ("probe_bitrate_kbps", "probe_i_frame_avg_bytes", "probe_p_frame_avg_bytes"):
            x[:, COLUMN[name]] = probe[name]
        x[:, COLUMN["shot_length_frames"]], x[:, COLUMN["fps"]] = n_frames, fps
        x[:, COLUMN["width"]], x[:, COLUMN["height"]] = width, height
        sweeps.append(x)
    assert len(sweeps) == 6
    return sweeps


def _unmeasured(x: np.ndarray) -> np.ndarray:
    blind = x.copy()
    blind[:, COLUMN["probe_bitrate_kbps"]] = 0.0
    return blind


def _worst_gap(onnx_bytes: bytes) -> float:
    return max(float(np.abs(ort_predict(onnx_bytes, x) - ort_predict(onnx_bytes, _unmeasured(x))).max())
               for x in _probe_rows())


@pytest.mark.parametrize("codec", SUPPORTED_CODECS)
def test_every_shipped_stub_predicts_the_same_at_0_kbps_as_at_the_measured_bitrate(codec):
    onnx_bytes = model_path(REPO_MODEL_DIR, codec).read_bytes()
    assert set(graph_ops(onnx_bytes)) <= OP_ALLOWLIST
    assert _worst_gap(onnx_bytes) <= SAME_PICK_VMAF


def test_a_model_trained_on_the_real_sweep_predicts_the_same_at_0_kbps():
    data = load_corpus([DATA / "crfsweep_libx264_subset.jsonl"]).for_codec("libx264")
    weights = fit(data.features, data.target, np.ones((1, data.n_rows), dtype=bool),
                  dataclasses.replace(DEFAULT_PROFILE, epochs=30), 0, data.observed)
    assert _worst_gap(build_onnx(weights, "libx264")) <= SAME_PICK_VMAF


def test_the_recovery_is_what_keeps_the_prediction_and_a_measured_bitrate_passes_through():
    """Without frame sizes there is nothing to recover from (the stub then moves by VMAF points), and any
    measured bitrate, however small, is the model's input as sent."""
    onnx_bytes = model_path(REPO_MODEL_DIR, "libx264").read_bytes()
    x = _probe_rows()[1]
    nothing = _unmeasured(x)
    nothing[:, [COLUMN["probe_i_frame_avg_bytes"], COLUMN["probe_p_frame_avg_bytes"]]] = 0.0
    assert np.abs(ort_predict(onnx_bytes, x) - ort_predict(onnx_bytes, nothing)).max() > 1.0
    half = x.copy()
    half[:, COLUMN["probe_bitrate_kbps"]] /= 2  # measured, so kept: the prediction follows it
    assert np.abs(ort_predict(onnx_bytes, x) - ort_predict(onnx_bytes, half)).max() > 0.1
    floor = nothing.copy()
    floor[:, COLUMN["probe_bitrate_kbps"]] = 0.5  # below the 1 kbps log floor: the same model input as 0
    np.testing.assert_array_equal(ort_predict(onnx_bytes, nothing), ort_predict(onnx_bytes, floor))


def test_saliency_sent_as_0_keeps_the_prediction_of_a_model_that_never_saw_it():
    """The harness sends saliency as 0 without a saliency model; our models never see it vary."""
    onnx_bytes = model_path(REPO_MODEL_DIR, "libx264").read_bytes()
    x = _probe_rows()[2]
    with_saliency = x.copy()
    with_saliency[:, COLUMN["saliency_mean"]], with_saliency[:, COLUMN["saliency_var"]] = 0.7, 0.04
    np.testing.assert_array_equal(ort_predict(onnx_bytes, x), ort_predict(onnx_bytes, with_saliency))
