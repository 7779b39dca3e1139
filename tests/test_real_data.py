"""Real corpora: generalisation against the linear baseline, absurd rows, BOMs, long names, per-frame rows."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson
import pytest

from trainer.core.features import FEATURE_NAMES
from trainer.engine.engine import TrainingEngine
from trainer.ingest.corpus import load_corpus
from trainer.ingest.live import IncrementalCorpus
from trainer.ingest.parsing import UTF8_BOM
from trainer.ingest.synthetic import synthetic_codec_data
from trainer.learning.baseline import baseline_features, baseline_predictions
from trainer.learning.metrics import plcc, rmse
from trainer.learning.model import TrainingDiverged, fit
from trainer.learning.planning import build_fold_tasks
from trainer.learning.profiles import DEFAULT_PROFILE
from trainer.learning.tasks import run_fold_task
from trainer.run.cli import main as trainer_main
from trainer.shipping.onnx_export import OP_ALLOWLIST, build_onnx, graph_ops, ort_predict, validate_onnx

NFLX = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "nflx_public_libx264.jsonl"
needs_nflx = pytest.mark.skipif(not NFLX.exists(), reason="../shared/corpora/ is not beside this checkout")


def _fold_numbers(path: Path, seed: int = 0) -> list[tuple]:
    data = load_corpus([path]).for_codec("libx264")
    results = [fold for task in build_fold_tasks(data, DEFAULT_PROFILE, seed) for fold in run_fold_task(task)]
    return [(f.fold_index, f.held_out_sources, f.plcc, f.srocc, f.rmse, f.n_train, f.n_val) for f in results]


@pytest.mark.slow
@needs_nflx
def test_default_profile_is_at_least_as_good_as_the_linear_baseline_on_nflx():
    """Mean over seeds 0-4 on the report's own folds (the issue's acceptance bar, not a tuned number)."""
    data = load_corpus([NFLX]).for_codec("libx264")
    model_plcc, model_rmse, base_plcc, base_rmse = [], [], [], []
    for seed in range(5):
        for task in build_fold_tasks(data, DEFAULT_PROFILE, seed):
            for fold in run_fold_task(task):
                model_plcc.append(fold.plcc)
                model_rmse.append(fold.rmse)
                base_plcc.append(fold.baseline_plcc)
                base_rmse.append(fold.baseline_rmse)
    assert np.mean(model_plcc) >= np.mean(base_plcc) - 0.005
    assert np.mean(model_rmse) <= np.mean(base_rmse) + 0.5


@needs_nflx
@pytest.mark.parametrize("poison", [
    {"width": 1e20}, {"bitrate_kbps": 1e308}, {"height": -1080}, {"framerate": 0}, {"crf": 1e9},
])
@pytest.mark.slow
def test_a_poisoned_row_is_rejected_and_leaves_every_fold_bit_identical(tmp_path, poison):
    clean = NFLX.read_bytes()
    row = {"src": "Tennis_24fps", "encoder": "libx264", "width": 1920, "height": 1080, "framerate": 24.0,
           "bitrate_kbps": 3000.0, "vmaf_score": 80.0, **poison}
    poisoned = tmp_path / "poisoned.jsonl"
    poisoned.write_bytes(clean + orjson.dumps(row) + b"\n")
    corpus = load_corpus([poisoned])
    assert corpus.rejections.counts["input-out-of-range"] == 1
    [example] = corpus.rejections.examples["input-out-of-range"]
    field = next(iter(poison))
    assert example.startswith(f"{poisoned}:71: input-out-of-range: ")
    assert {"framerate": "fps"}.get(field, field) in example
    assert _fold_numbers(poisoned) == _fold_numbers(NFLX)


def test_training_that_turns_non_finite_is_an_error_not_a_nan_model():
    data = synthetic_codec_data("libx264", 6, 10, 0.5, 0)
    broken = data.target.copy()
    broken[3] = np.nan
    with pytest.raises(TrainingDiverged):
        fit(data.features, broken, np.ones((1, data.n_rows), dtype=bool), replace(DEFAULT_PROFILE, epochs=2), 0)

    events: list = []
    engine = TrainingEngine(replace(DEFAULT_PROFILE, epochs=2), 0, events.append, lambda: ThreadPoolExecutor(1), 1)
    try:
        engine.submit("libx264", lambda: replace(data, target=broken))
        result = engine.run_until_idle()["libx264"]
    finally:
        engine.close()
    assert result.status == "error" and "TrainingDiverged" in result.failure_reasons[0]


def test_a_bom_at_the_start_of_a_file_costs_no_row(tmp_path):
    rows = [{"src": f"s{i}", "encoder": "libx264", "crf": 20 + i, "vmaf": 80.0 + i} for i in range(3)]
    body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    path = tmp_path / "bom.jsonl"
    path.write_bytes(UTF8_BOM + body)
    corpus = load_corpus([path])
    assert corpus.rows_accepted == 3 and corpus.rejections.total == 0

    live_path = tmp_path / "live.jsonl"
    live = IncrementalCorpus()
    data = UTF8_BOM + body
    for cut in (0, 2, 5, len(data)):  # the BOM itself arrives split over two appends
        with live_path.open("ab") as handle:
            handle.write(data[len(live_path.read_bytes()) if live_path.exists() else 0 : cut])
        live.refresh(str(live_path))
    assert live.summary().rows_accepted == 3 and live.summary().rejections.total == 0


@pytest.mark.slow
def test_a_huge_source_name_is_cut_in_human_output_and_whole_in_the_report(tmp_path):
    long_src = "x" * 10_000
    rows = [r for r in _synthetic_rows("libx264", 6, 8)]
    for r in rows:
        if r["src"] == "libx264_src000":
            r["src"] = long_src
    corpus = tmp_path / "long.jsonl"
    corpus.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    out = tmp_path / "runs"
    code = trainer_main(["--corpus", str(corpus), "--out-dir", str(out), "--model-dir", str(tmp_path / "m"),
                         "--codec", "libx264", "--epochs", "3", "--workers", "1"])
    assert code in (0, 1)
    log_text = next(out.glob("train_*.log")).read_text()
    assert long_src not in log_text and "xxxx…xxxx" in log_text
    assert max(len(line) for line in log_text.splitlines()) < 600
    report = json.loads((out / "report.json").read_text())
    held = [s for f in report["codecs"][0]["folds"] for s in f["held_out_sources"]]
    assert long_src in held


def _synthetic_rows(codec: str, n_sources: int, rows_per_source: int) -> list[dict]:
    from trainer.ingest.synthetic import synthetic_rows

    return list(synthetic_rows(codec, n_sources, rows_per_source, 0.5, 3, mark_generated=False))


def _frame_rows() -> list[dict]:
    rows = []
    for src in ("a", "b"):
        for cq in (22, 30):
            for frame in range(6):
                rows.append({"src": src, "encoder": "libx265", "cq": cq, "frame_index": frame,
                             "vmaf": 60.0 + cq + frame + (5 if src == "b" else 0), "adm2": 0.9, "motion2": 1.0})
    return rows


def test_per_frame_rows_become_one_row_per_clip_with_the_mean_vmaf(tmp_path):
    path = tmp_path / "frames.jsonl"
    clip_row = {"src": "c", "encoder": "libx265", "crf": 25, "vmaf": 70.0, "width": 1280, "height": 720}
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [*_frame_rows(), clip_row]))
    corpus = load_corpus([path])
    assert (corpus.frames_aggregated, corpus.clips, corpus.rows_accepted) == (24, 4, 5)
    data = corpus.for_codec("libx265")
    crf = FEATURE_NAMES.index("crf")
    got = sorted((s, float(f[crf]), float(t)) for s, f, t in zip(data.sources, data.features, data.target,
                                                                    strict=True))
    # mean of frames 0..5 is +2.5 over the first frame's score
    assert got == [("a", 22.0, 84.5), ("a", 30.0, 92.5), ("b", 22.0, 89.5), ("b", 30.0, 97.5), ("c", 25.0, 70.0)]


def test_frames_of_a_clip_arriving_in_several_appends_aggregate_the_same(tmp_path):
    rows = _frame_rows()
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    expected = load_corpus([whole])

    live_path = tmp_path / "live.jsonl"
    live = IncrementalCorpus()
    for start in range(0, len(rows), 5):  # 5 frames per append: clips straddle appends
        with live_path.open("ab") as handle:
            handle.write(b"".join(orjson.dumps(r) + b"\n" for r in rows[start : start + 5]))
        live.refresh(str(live_path))
    corpus = live.corpus()
    assert (corpus.frames_aggregated, corpus.clips) == (24, 4)
    assert live.summary().rows_per_codec["libx265"] == 4
    np.testing.assert_array_equal(corpus.target, expected.target)
    assert corpus.sources.tolist() == expected.sources.tolist()


def test_the_exported_graph_with_log_inputs_passes_checker_allowlist_and_parity():
    data = synthetic_codec_data("libx264", 6, 20, 0.5, 0)
    weights = fit(data.features, data.target, np.ones((1, data.n_rows), dtype=bool),
                  replace(DEFAULT_PROFILE, epochs=5), 0)
    onnx_bytes = build_onnx(weights, "libx264")
    assert {"Log", "Max"} <= set(graph_ops(onnx_bytes)) <= OP_ALLOWLIST
    edge_rows = np.vstack([data.features, np.zeros((1, 14), np.float32), np.full((1, 14), 1e6, np.float32)])
    assert validate_onnx(onnx_bytes, weights, edge_rows) == []
    assert np.all(np.isfinite(ort_predict(onnx_bytes, edge_rows)))
    assert build_onnx(weights, "libx264") == onnx_bytes  # deterministic bytes


def test_baseline_matches_scikit_learn_ridge_after_standard_scaler():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = synthetic_codec_data("h264_amf", 8, 15, 4.0, 1)
    held = np.zeros((2, data.n_rows), dtype=bool)
    held[0, :30], held[1, 60:90] = True, True
    ours = baseline_predictions(data.features, data.target, held)
    x = baseline_features(data.features)
    for k in range(2):
        reference = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(x[~held[k]], data.target[~held[k]])
        np.testing.assert_allclose(ours[k], reference.predict(x), rtol=1e-6, atol=1e-6)
        assert plcc(ours[k][held[k]], data.target[held[k]]) > 0.5 and rmse(ours[k], data.target) < 20
