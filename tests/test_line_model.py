"""The embedded ridge line: exact inside the runtime graph, offered only where it may be, chosen when it wins."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import orjson
import pytest

from tests.conftest import shipped_model_dir
from tests.line_corpora import line_rows
from trainer.core.features import FEATURE_NAMES, N_FEATURES
from trainer.ingest.corpus import load_corpus
from trainer.learning.baseline import fit_predict_ridge
from trainer.learning.line_family import LINE_FAMILY
from trainer.learning.line_model import KNOTS, fit_line, line_applies
from trainer.learning.model import predict
from trainer.learning.planning import build_final_task, build_fold_tasks
from trainer.learning.profiles import DEFAULT_PROFILE, NESTED_PROFILE
from trainer.learning.selection import candidates, final_choice, nested_applies
from trainer.learning.tasks import run_final_task, run_fold_task
from trainer.run.cli import main
from trainer.shipping.artifacts import card_path, model_path
from trainer.shipping.onnx_export import build_onnx, ort_predict

COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}
LINE_NAMES = [member.name for member in LINE_FAMILY]
BPP_LINE = "line-bpp"


def _bitrate_rows(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose target is a known line in (log kbps, fps), spanning below 0 to above 100."""
    rng = np.random.default_rng(seed)
    features = np.zeros((n, N_FEATURES), dtype=np.float32)
    features[:, COLUMN["probe_bitrate_kbps"]] = np.exp(rng.uniform(np.log(50), np.log(50000), n))
    features[:, COLUMN["fps"]] = rng.choice([24.0, 30.0, 60.0], n)
    features[:, COLUMN["width"]], features[:, COLUMN["height"]] = 1920.0, 1080.0
    target = 15.0 * np.log(features[:, COLUMN["probe_bitrate_kbps"]] / 300.0) + 0.2 * features[:, COLUMN["fps"]]
    return features, target.astype(np.float32)


def test_the_embedded_line_is_the_ridge_line_clipped_to_the_vmaf_range():
    features, target = _bitrate_rows()
    weights = fit_line(features, target, np.ones((1, target.size), dtype=bool), DEFAULT_PROFILE)
    x = np.column_stack([np.log(features[:, COLUMN["probe_bitrate_kbps"]]), features[:, COLUMN["fps"]]])
    line = fit_predict_ridge(x.astype(np.float64), target.astype(np.float64), x.astype(np.float64))
    predicted = predict(weights, features)[0]
    inside = (line > KNOTS[0]) & (line < KNOTS[-1])
    assert inside.sum() > 100 and (~inside).sum() > 20
    assert np.abs(predicted[inside] - line[inside]).max() < 0.05  # 64 knots: a chord error of a few hundredths
    np.testing.assert_allclose(predicted[line <= KNOTS[0]], KNOTS[0], atol=1e-3)
    np.testing.assert_allclose(predicted[line >= KNOTS[-1]], KNOTS[-1], atol=1e-3)
    # The ONNX graph the harness loads computes the same numbers.
    onnx_out = ort_predict(build_onnx(weights.select(0), "libx265"), features)
    np.testing.assert_allclose(onnx_out.ravel(), predicted, atol=1e-3)


def test_only_the_inputs_the_line_uses_have_first_layer_weights():
    features, target = _bitrate_rows()
    weights = fit_line(features, target, np.ones((1, target.size), dtype=bool), DEFAULT_PROFILE)
    used = np.flatnonzero(np.abs(weights.w1[0]).sum(1) > 0)
    assert [FEATURE_NAMES[i] for i in used] == ["probe_bitrate_kbps", "fps"]


def test_the_line_is_offered_only_where_the_quality_input_is_dead():
    features, target = _bitrate_rows()
    everything = np.ones(target.size, dtype=bool)
    assert line_applies(features, everything, None)
    assert [c.name for c in candidates(DEFAULT_PROFILE, True)] == ["shrink=6", *LINE_NAMES]
    assert len(candidates(NESTED_PROFILE, True)) == 8
    swept = features.copy()
    swept[:, COLUMN["crf"]] = np.linspace(18, 45, target.size)
    assert not line_applies(swept, everything, None)
    offered = candidates(DEFAULT_PROFILE, False)
    assert [c.name for c in offered] == ["shrink=6"]
    assert not nested_applies(DEFAULT_PROFILE, target.size, len(offered)), "one candidate: plain training"
    with pytest.raises(ValueError, match="dead quality input"):
        fit_line(swept, target, everything[None, :], DEFAULT_PROFILE)


@pytest.mark.usefixtures("one_torch_thread")
def test_on_a_corpus_a_line_explains_best_every_fold_and_the_shipped_model_choose_the_line(tmp_path):
    path = tmp_path / "line.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(row) for row in line_rows(seed=1)) + b"\n")
    data = load_corpus([path]).for_codec("libx265")
    profile = dataclasses.replace(DEFAULT_PROFILE, epochs=60)
    folds = [result for task in build_fold_tasks(data, profile, seed=0) for result in run_fold_task(task)]
    # VMAF is linear in log bits per pixel here: a line of the family (RMSE chooses by the lowest mean, so
    # whichever member fitted the inner folds best), never the network or the line on every input; the
    # paired rule, recorded beside it, keeps the simplest in most folds (a richer line only where it is
    # better on nearly every inner source)
    family = {BPP_LINE, "line-bpp-height", "line-ladder"}
    chosen = [f.model_choice.chosen for f in folds]
    assert set(chosen) <= family
    assert [f.model_choice.rule_choices["paired"] for f in folds].count(BPP_LINE) >= 3
    for fold in folds:  # the line won on the inner folds by a clear margin, not by a hair
        assert fold.model_choice.inner_rmse[BPP_LINE] < 0.95 * fold.model_choice.inner_rmse["shrink=6"]
    choice = final_choice([f.model_choice for f in folds])
    assert choice is not None and choice["chosen"] in family
    shipped = run_final_task(build_final_task(data, profile, seed=0, model_choice=choice))
    everything = np.ones((1, data.target.size), dtype=bool)
    line = fit_line(data.features, data.target, everything, profile, data.observed, str(choice["chosen"]))
    np.testing.assert_array_equal(shipped.w1, line.w1)
    onnx_out = ort_predict(build_onnx(shipped.select(0), "libx265"), data.features).ravel()
    assert float(np.corrcoef(onnx_out, data.target)[0, 1]) > 0.9


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_a_batch_promotes_the_chosen_line_and_its_card_says_so(tmp_path):
    """Low-noise line corpus (20 sources): a family line wins every fold, passes the gate and is what ships."""
    corpus = tmp_path / "ingest" / "line.jsonl"
    corpus.parent.mkdir()
    rows = line_rows(n_sources=20, seed=2, offset_sigma=0.5, noise_sigma=0.5)
    corpus.write_bytes(b"\n".join(orjson.dumps(row) for row in rows) + b"\n")
    model_dir = shipped_model_dir(tmp_path / "model", ("libx265",))
    code = main(["--corpus", str(corpus), "--codec", "libx265", "--model-dir", str(model_dir),
                 "--out-dir", str(tmp_path / "runs"), "--workers", "1", "--yes"])
    report = json.loads((tmp_path / "runs" / "report.json").read_text())
    codec = report["codecs"][0]
    assert code == 0 and codec["status"] == "pass"
    family = {BPP_LINE, "line-bpp-height", "line-ladder"}
    assert {f["model_choice"]["chosen"] for f in codec["folds"]} <= family
    chosen = codec["model_choice"]["chosen"]
    assert chosen in family
    assert codec["incumbent"]["kind"] == "stub"  # the synthetic stub was scored on every source, and lost
    card = card_path(model_dir, "libx265").read_text()
    assert (f"- model: `{chosen}` (the ridge line on log bits per pixel") in card
    assert "embedded in the MLP graph), chosen by nested LOSO on RMSE (per source; lowest mean)" in card
    data = load_corpus([corpus]).for_codec("libx265")
    line = fit_line(data.features, data.target, np.ones((1, data.target.size), dtype=bool), DEFAULT_PROFILE,
                    data.observed, chosen)
    shipped = ort_predict(model_path(model_dir, "libx265").read_bytes(), data.features).ravel()
    np.testing.assert_allclose(shipped, predict(line, data.features)[0], atol=1e-3)


def _ladder_rows(n: int = 240, seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Bitrate ladders over resolutions and frame rates: VMAF linear in log bits per pixel and log height."""
    rng = np.random.default_rng(seed)
    features = np.zeros((n, N_FEATURES), dtype=np.float32)
    height = rng.choice([360.0, 720.0, 1080.0, 2160.0], n)
    features[:, COLUMN["height"]], features[:, COLUMN["width"]] = height, height * 16 / 9
    features[:, COLUMN["fps"]] = rng.choice([24.0, 30.0, 60.0], n)
    features[:, COLUMN["probe_bitrate_kbps"]] = np.exp(rng.uniform(np.log(200), np.log(40000), n))
    features[:, COLUMN["y_avg"]] = rng.uniform(40, 200, n)  # a content statistic the bpp lines never read
    bpp = features[:, COLUMN["probe_bitrate_kbps"]] * 1000 / (features[:, 12] * height * features[:, COLUMN["fps"]])
    target = 40 + 10 * np.log(bpp / 0.05) + 4 * np.log(height / 720) + rng.normal(0, 1.0, n)
    return features, target.astype(np.float32)


@pytest.mark.parametrize("name, columns", [
    ("line-bpp", ["log_bpp"]),
    ("line-ladder", ["log_kbps", "log_bpp", "log_height", "log_fps"]),
])
def test_a_family_line_is_the_ridge_on_its_own_features_and_reads_nothing_else(name, columns):
    features, target = _ladder_rows()
    weights = fit_line(features, target, np.ones((1, target.size), dtype=bool), DEFAULT_PROFILE, None, name)
    x = features.astype(np.float64)
    kbps, height, fps = x[:, COLUMN["probe_bitrate_kbps"]], x[:, COLUMN["height"]], x[:, COLUMN["fps"]]
    derived = {"log_kbps": np.log(kbps), "log_bpp": np.log(kbps / (x[:, COLUMN["width"]] * height * fps)),
               "log_height": np.log(height), "log_fps": np.log(fps)}
    design = np.column_stack([derived[c] for c in columns])
    ridge = fit_predict_ridge(design, target.astype(np.float64), design)
    predicted = predict(weights, features)[0]
    inside = (ridge > KNOTS[0] + 1) & (ridge < KNOTS[-1] - 1)
    assert inside.sum() > 150
    assert np.abs(predicted[inside] - ridge[inside]).max() < 0.05
    onnx_out = ort_predict(build_onnx(weights.select(0), "libx264"), features).ravel()
    np.testing.assert_allclose(onnx_out, predicted, atol=1e-3)
    used = {FEATURE_NAMES[i] for i in np.flatnonzero(np.abs(weights.w1[0]).sum(1) > 0)}
    assert "y_avg" not in used and used <= {"probe_bitrate_kbps", "width", "height", "fps"}


def test_a_family_line_gives_no_weight_to_an_input_training_never_varied():
    """Fixed 1080p ladders: the bits-per-pixel line must not read width or height, or the harness's
    first 720p clip would move a prediction on a ground training never covered."""
    features, target = _ladder_rows()
    features[:, COLUMN["height"]], features[:, COLUMN["width"]] = 1080.0, 1920.0
    weights = fit_line(features, target, np.ones((1, target.size), dtype=bool), DEFAULT_PROFILE, None, "line-bpp")
    used = {FEATURE_NAMES[i] for i in np.flatnonzero(np.abs(weights.w1[0]).sum(1) > 0)}
    assert used == {"probe_bitrate_kbps", "fps"}
    moved = features.copy()
    moved[:, COLUMN["height"]], moved[:, COLUMN["width"]] = 720.0, 1280.0
    np.testing.assert_array_equal(predict(weights, moved), predict(weights, features))
