"""Cards say what the model assumes of the harness: its probe, the inputs it reads and the ones it ignores."""

import re
import shutil

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from tests.conftest import DEMO_PROMOTE_EPOCHS
from tests.test_promote import REPO_MODEL_DIR, _real_style_corpus
from trainer.core.codecs import PROBE_PRESET, PROBE_QUALITY, SUPPORTED_CODECS
from trainer.core.features import FEATURE_NAMES
from trainer.run.cli import main
from trainer.shipping.artifacts import card_path, model_path
from trainer.shipping.cards import harness_inputs_section


def _shipped_w1(path) -> np.ndarray:
    model = onnx.load_from_string(path.read_bytes())
    return next(numpy_helper.to_array(t) for t in model.graph.initializer if t.name == "w1")


def _listed(card: str, what: str) -> list[str]:
    line = next(line for line in card.splitlines() if line.startswith(f"- inputs {what}"))
    names = line.split(": ", 1)[1]
    return [] if names == "none" else names.split(", ")


def _assert_card_matches_its_onnx(card: str, onnx_path) -> None:
    zero = [name for name, row in zip(FEATURE_NAMES, _shipped_w1(onnx_path), strict=True) if not row.any()]
    assert _listed(card, "ignored") == zero
    assert _listed(card, "used") == [name for name in FEATURE_NAMES if name not in zero]


def test_the_section_lists_inputs_by_their_exported_first_layer_weights_and_says_when_overridden():
    w1 = np.ones((14, 64), dtype=np.float32)
    w1[[2, 5, 9]] = 0.0
    w1[7, 3] = 1e-30  # one tiny weight still reads the input
    lines = harness_inputs_section("libsvtav1", 30, w1, "somewhere")
    assert lines[0] == "## Harness inputs"
    assert "- probe quality: 30 (overridden with --probe-quality; harness default 35)" in lines
    assert "- probe preset: veryfast" in lines and "- probe inputs in training: somewhere" in lines
    card = "\n".join(lines)
    assert _listed(card, "ignored") == ["probe_i_frame_avg_bytes", "saliency_mean", "y_var"]
    assert "frame_diff_mean" in _listed(card, "used")
    default = harness_inputs_section("libsvtav1", 35, w1, "x")
    assert "- probe quality: 35 (the harness default for libsvtav1)" in default


@pytest.mark.parametrize("codec", SUPPORTED_CODECS)
def test_every_committed_stub_card_says_its_probe_and_the_inputs_its_onnx_ignores(codec):
    card = card_path(REPO_MODEL_DIR, codec).read_text()
    assert f"- probe quality: {PROBE_QUALITY[codec]} (the harness default for {codec})" in card
    assert f"- probe preset: {PROBE_PRESET[codec]}" in card
    _assert_card_matches_its_onnx(card, model_path(REPO_MODEL_DIR, codec))
    assert "y_avg" in _listed(card, "ignored")  # a stub never saw content statistics


@pytest.mark.slow
def test_a_promoted_card_names_the_overridden_probe_and_what_its_model_ignores(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for path in (model_path(REPO_MODEL_DIR, "libx265"), card_path(REPO_MODEL_DIR, "libx265")):
        shutil.copy(path, model_dir / path.name)
    corpus = _real_style_corpus(tmp_path / "real.jsonl", {"libx265"})
    code = main(["--corpus", str(corpus), "--codec", "libx265", "--model-dir", str(model_dir), "--out-dir",
                 str(tmp_path / "runs"), "--probe-quality", "libx265=30", "--epochs", DEMO_PROMOTE_EPOCHS, "--yes"])
    assert code == 0
    card = card_path(model_dir, "libx265").read_text()
    assert "## Status: Production" in card
    assert "- probe quality: 30 (overridden with --probe-quality; harness default 28)" in card
    assert re.search(r"- probe inputs in training: \d+ rows from the ultrafast ladder of their source, \d+ from "
                     r"their own ladder at quality 30, \d+ explicit probe measurements, \d+ their own encode", card)
    _assert_card_matches_its_onnx(card, model_path(model_dir, "libx265"))
