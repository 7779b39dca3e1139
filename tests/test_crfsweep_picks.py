"""A model trained on a real CRF sweep picks the same CRF whatever content statistics the harness feeds.

The corpus has no content statistics, so the harness's default ``signalstats`` pass (non-zero
``y_avg``, ``y_var``, ``frame_diff_mean`` per clip) must not move a single pick. The harness's inputs
here are real: its own probe encode of each clip (libx264 ultrafast, CRF 28) and each clip's
signalstats (tests/data/README.md). The bundled six-clip subset of the sweep runs everywhere; the
whole sweep runs where ../shared is beside the checkout.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.harness_checks import DATA, SALIENCY, harness_picks, per_clip, signalstats
from trainer.core.features import FEATURE_NAMES
from trainer.ingest.corpus import load_corpus
from trainer.learning.crf_pick import TARGETS
from trainer.learning.profiles import DEFAULT_PROFILE
from trainer.learning.tasks import FinalTask, run_final_task
from trainer.shipping.cards import ignored_inputs
from trainer.shipping.onnx_export import build_onnx

SUBSET = DATA / "crfsweep_libx264_subset.jsonl"
SWEEP = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "crfsweep_libx264.jsonl"
CONTENT = ("saliency_mean", "saliency_var", "frame_diff_mean", "y_avg", "y_var")
FRAME_SIZES = ("probe_i_frame_avg_bytes", "probe_p_frame_avg_bytes", "probe_b_frame_avg_bytes")


def trained_onnx(corpus: Path, epochs: int) -> tuple[bytes, dict[str, np.ndarray]]:
    """The full-corpus libx264 model as promotion would export it, and one training row per clip.

    The sweep is x264 ``medium``; the harness probes with ``ultrafast``, which codes no B frames (its
    probe file has B-frame size null, fed as 0). So the model must read the ladders' bitrate at CRF 28
    and ignore their frame sizes, or the harness's real probe lands far outside what it trained on.
    """
    data = load_corpus([corpus]).for_codec("libx264")
    weights = run_final_task(FinalTask("libx264", data.features, data.target,
                                       replace(DEFAULT_PROFILE, epochs=epochs), 0, data.observed))
    ignored = ignored_inputs(weights.w1[0])
    assert "probe_bitrate_kbps" not in ignored and set(FRAME_SIZES) <= set(ignored)
    assert data.probe.sizes_withheld == data.n_rows
    first = {str(src): data.features[i] for i, src in reversed(list(enumerate(data.sources)))}
    return build_onnx(weights, "libx264"), first


def harness_probe(clip: str, row: np.ndarray, probes: dict[str, dict[str, object]]) -> np.ndarray:
    """What the harness feeds for a clip: its real probe encode, the clip's size, rate and length, content 0."""
    probe = np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32)
    for name in ("shot_length_frames", "fps", "width", "height"):
        probe[0, FEATURE_NAMES.index(name)] = row[FEATURE_NAMES.index(name)]
    for name in ("probe_bitrate_kbps", "probe_i_frame_avg_bytes", "probe_p_frame_avg_bytes", "probe_b_frame_avg_bytes"):
        probe[0, FEATURE_NAMES.index(name)] = probes[clip][name] or 0.0  # ultrafast has no B frames: null
    return probe


def assert_content_never_moves_a_pick(onnx_bytes: bytes, rows: dict[str, np.ndarray]) -> None:
    probes, stats = per_clip("crfsweep_probe_libx264.jsonl"), signalstats()
    assert set(rows) <= set(probes) and set(rows) <= set(stats)
    for clip, row in sorted(rows.items()):
        plain = harness_probe(clip, row, probes)
        fed = plain.copy()
        for name, value in {**stats[clip], **SALIENCY}.items():
            fed[0, FEATURE_NAMES.index(name)] = value
        assert any(fed[0, FEATURE_NAMES.index(name)] != 0 for name in CONTENT)
        zero_picks = harness_picks(onnx_bytes, plain, "libx264", TARGETS)
        assert harness_picks(onnx_bytes, fed, "libx264", TARGETS) == zero_picks, clip
        assert zero_picks == sorted(zero_picks, reverse=True) and len(set(zero_picks)) > 1, (clip, zero_picks)


def test_signalstats_never_change_a_pick_of_a_model_trained_on_the_bundled_sweep(one_torch_thread):
    onnx_bytes, rows = trained_onnx(SUBSET, epochs=60)
    assert len(rows) == 6
    assert_content_never_moves_a_pick(onnx_bytes, rows)


@pytest.mark.skipif(not SWEEP.exists(), reason="../shared/corpora/ is not beside this checkout")
def test_signalstats_never_change_a_pick_of_a_model_trained_on_the_whole_real_sweep(one_torch_thread):
    onnx_bytes, rows = trained_onnx(SWEEP, epochs=30)
    assert len(rows) == 16
    assert_content_never_moves_a_pick(onnx_bytes, rows)
