"""A model promoted from a real-style ladder corpus meets the harness's contract, and its unseen inputs are inert.

The corpus is written as an ingest writes it (no generated flag), so a whole batch run with
``--yes`` trains, passes the gate and writes the ONNX the harness would load; that file is then
checked with onnxruntime (CPU) exactly as the harness's shipped-model tests check theirs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.harness_checks import SALIENCY, check_harness_contract, harness_input, signalstats
from tests.ladder_corpora import bpp_ladder_rows, write_rows
from trainer.ingest.corpus import load_corpus
from trainer.learning.crf_pick import ladder_index, quality_sweep
from trainer.run.cli import main
from trainer.shipping.artifacts import model_path
from trainer.shipping.monotone import MAX_RISE
from trainer.shipping.onnx_export import ort_predict

pytestmark = pytest.mark.slow  # runs a whole --batch --yes promotion


@pytest.fixture(scope="module")
def promoted(tmp_path_factory):
    """The libx264 model a batch with --yes promotes from a CRF ladder corpus without content statistics:
    20 sources x 10 CRF points, quality following bits per pixel (the issue's generated check)."""
    tmp = tmp_path_factory.mktemp("promoted")
    corpus = write_rows(tmp / "ingest" / "ladders.jsonl", bpp_ladder_rows("libx264", n_sources=20))
    model_dir = tmp / "model"
    model_dir.mkdir()
    code = main(["--corpus", str(corpus), "--codec", "libx264", "--model-dir", str(model_dir),
                 "--out-dir", str(tmp / "runs"), "--workers", "1", "--yes"])
    report = json.loads((tmp / "runs" / "report.json").read_text())
    return code, report, model_path(model_dir, "libx264").read_bytes(), corpus


def test_a_promoted_model_meets_the_harness_contract(promoted):
    code, report, onnx_bytes, _corpus = promoted
    assert code == 0 and report["codecs"][0]["status"] == "pass"
    assert {(c["codec"], c["action"]) for c in report["promotion"]["applied"]} >= {("libx264", "replace-model")}
    check_harness_contract(onnx_bytes, "libx264")


def test_content_inputs_a_corpus_never_had_do_not_move_a_promoted_model(promoted):
    """Each real clip's signalstats (and typical saliency) against zeros: under 1e-4 VMAF at every CRF 0..51."""
    _code, _report, onnx_bytes, _corpus = promoted
    plain = np.concatenate([harness_input(crf) for crf in range(52)])
    answers = ort_predict(onnx_bytes, plain)[:, 0]
    assert np.ptp(answers) > 20  # the model does answer to the inputs it saw vary
    for clip, stats in signalstats().items():
        fed = np.concatenate([harness_input(crf, **stats, **SALIENCY) for crf in range(52)])
        assert np.max(np.abs(ort_predict(onnx_bytes, fed)[:, 0] - answers)) < 1e-4, clip


def test_on_a_bits_per_pixel_ladder_corpus_picks_are_close_and_the_promoted_model_is_monotone_everywhere(promoted):
    """Held-out picks within 1.5 CRF steps on average; the shipped ONNX never rises with CRF over
    the codec's whole range at the probe inputs of every training ladder (not only the fitted span)."""
    _code, report, onnx_bytes, corpus = promoted
    codec = report["codecs"][0]
    assert codec["crf_pick"]["n"] >= 20 * 3
    assert codec["crf_pick"]["mean_abs_quality_error"] <= 1.5
    # content decides quality here, so nested LOSO keeps the network over the content-blind curve
    assert codec["model_choice"]["criterion"] == "crf_pick" and codec["model_choice"]["chosen"] == "shrink=6"
    assert "libx264" not in report["promotion"]["blocked"]
    data = load_corpus([corpus]).for_codec("libx264")
    ladders = ladder_index(data.features)
    firsts = data.features[[int(np.flatnonzero(ladders == k)[0]) for k in range(int(ladders.max()) + 1)]]
    assert firsts.shape[0] == 20
    sweep = quality_sweep(firsts, "libx264")
    curves = ort_predict(onnx_bytes, sweep)[:, 0].reshape(firsts.shape[0], -1)
    assert curves.shape[1] == 52  # libx264: CRF 0..51
    assert np.max(np.diff(curves, axis=1)) <= MAX_RISE
    assert np.ptp(curves, axis=1).min() > 10  # and it is not flat
