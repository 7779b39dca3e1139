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
from trainer.run.cli import main
from trainer.shipping.artifacts import model_path
from trainer.shipping.onnx_export import ort_predict


@pytest.fixture(scope="module")
def promoted(tmp_path_factory):
    """The libx264 model a batch with --yes promotes from a 10-source CRF ladder corpus without content statistics."""
    tmp = tmp_path_factory.mktemp("promoted")
    corpus = write_rows(tmp / "ingest" / "ladders.jsonl", bpp_ladder_rows("libx264", n_sources=10))
    model_dir = tmp / "model"
    model_dir.mkdir()
    code = main(["--corpus", str(corpus), "--codec", "libx264", "--model-dir", str(model_dir),
                 "--out-dir", str(tmp / "runs"), "--workers", "1", "--yes"])
    report = json.loads((tmp / "runs" / "report.json").read_text())
    return code, report, model_path(model_dir, "libx264").read_bytes()


def test_a_promoted_model_meets_the_harness_contract(promoted):
    code, report, onnx_bytes = promoted
    assert code == 0 and report["codecs"][0]["status"] == "pass"
    assert {(c["codec"], c["action"]) for c in report["promotion"]["applied"]} >= {("libx264", "replace-model")}
    check_harness_contract(onnx_bytes, "libx264")


def test_content_inputs_a_corpus_never_had_do_not_move_a_promoted_model(promoted):
    """Each real clip's signalstats (and typical saliency) against zeros: under 1e-4 VMAF at every CRF 0..51."""
    _code, _report, onnx_bytes = promoted
    plain = np.concatenate([harness_input(crf) for crf in range(52)])
    answers = ort_predict(onnx_bytes, plain)[:, 0]
    assert np.ptp(answers) > 20  # the model does answer to the inputs it saw vary
    for clip, stats in signalstats().items():
        fed = np.concatenate([harness_input(crf, **stats, **SALIENCY) for crf in range(52)])
        assert np.max(np.abs(ort_predict(onnx_bytes, fed)[:, 0] - answers)) < 1e-4, clip
