"""The shipped model as champion: provenance on cards, scoring it on unseen rows, blocking regressions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from trainer.core.codecs import SUPPORTED_CODECS
from trainer.ingest.synthetic import synthetic_codec_data
from trainer.learning.crf_pick import crf_pick_by_group, crf_pick_metrics, pool
from trainer.learning.metrics import plcc
from trainer.learning.results import FoldResult
from trainer.shipping.artifacts import card_path, model_path, sha256_file
from trainer.shipping.cards import CardFacts, render_body, stub_block, with_status
from trainer.shipping.incumbent import compare_with_incumbent, regression
from trainer.shipping.onnx_export import ort_predict
from trainer.shipping.provenance import NoProvenance, read_provenance, sources_sha256

REPO_MODEL_DIR = Path(__file__).resolve().parent.parent / "model"
HOSTILE_NAMES = ["b", "a|b", "x\n## Status: Production", "```", "<!-- status:begin -->", "é\u202e", "../../etc/passwd",
                 "a"]


def _card(sources: list[str] | None, onnx_sha: str = "0" * 64) -> str:
    facts = CardFacts("libx264", "real-N=10", 10, len(sources or []), ["`c.jsonl` (1 bytes, 10 rows, sha256 `ab`)"],
                      ["- metrics"], ["Add"], onnx_sha, 5, sources is None, sources)
    return with_status(render_body(facts), stub_block())


# --- provenance --------------------------------------------------------------------------------

def test_provenance_reads_back_hostile_source_names_exactly_and_renders_them_inert():
    card = _card(HOSTILE_NAMES)
    provenance = read_provenance(card)
    assert provenance.sources == tuple(sorted(set(HOSTILE_NAMES))) and not provenance.synthetic
    assert provenance.kind == "production" and provenance.sha256 == sources_sha256(HOSTILE_NAMES)
    assert provenance.files == ("`c.jsonl` (1 bytes, 10 rows, sha256 `ab`)",)
    # No name starts a line of its own: no heading, no second status block, no fence end.
    assert card.count("\n## Status:") == 1 and "\n## Status: Production" not in card
    assert "\n```\n" in card and card.count("\n```") == 2
    assert "\u202e" not in card and "é" not in card  # escaped, so no bidi trickery in a review
    section = card[card.index("## Training provenance"):card.index("## Op allowlist")]
    assert f"- source count: {len(set(HOSTILE_NAMES))}" in section


def test_the_sources_hash_is_over_the_sorted_json_lines_and_tells_newlines_apart():
    import hashlib

    assert sources_sha256(["b", "a"]) == hashlib.sha256(b'"a"\n"b"').hexdigest()
    assert sources_sha256(["a\nb"]) != sources_sha256(["a", "b"])
    assert sources_sha256([]) == hashlib.sha256(b"").hexdigest()


def test_a_card_without_the_section_has_no_provenance_and_a_tampered_one_is_damaged():
    card = _card(["s1", "s2"])
    start, end = card.index("## Training provenance"), card.index("## Op allowlist")
    with pytest.raises(NoProvenance, match="no provenance"):
        read_provenance(card[:start] + card[end:])
    with pytest.raises(NoProvenance, match="damaged"):
        read_provenance(card.replace('"s2"', '"s3"'))
    with pytest.raises(NoProvenance, match="damaged"):
        read_provenance(card.replace("- source count: 2", "- source count: 1"))


@pytest.mark.parametrize("codec", SUPPORTED_CODECS)
def test_every_committed_stub_card_says_synthetic_and_describes_its_model(codec):
    card = card_path(REPO_MODEL_DIR, codec).read_text(encoding="utf-8")
    provenance = read_provenance(card)
    assert provenance.synthetic and provenance.sources == () and provenance.kind == "stub"
    assert "- trained on: synthetic (no real source seen)" in card and "- corpus files: none" in card
    assert f"- sha256: `{sha256_file(model_path(REPO_MODEL_DIR, codec))}`" in card


# --- the comparison ------------------------------------------------------------------------------

def _folds(data, predictions: np.ndarray, n_folds: int = 5) -> list[FoldResult]:
    """Out-of-fold results as the fold tasks carry them: each source's rows in one fold."""
    names = np.unique(data.sources)
    folds = []
    for k in range(n_folds):
        rows = np.flatnonzero(np.isin(data.sources, names[k::n_folds])).astype(np.int32)
        folds.append(FoldResult(data.codec, k, tuple(names[k::n_folds]), 0.99, 0.99, 1.0, 1, rows.size, 0.0,
                                held_out_rows=rows, predictions=predictions[rows].astype(np.float32)))
    return folds


@pytest.fixture
def shipped(tmp_path):
    """A model dir holding the committed libx264 stub (model and card)."""
    for path in (model_path(REPO_MODEL_DIR, "libx264"), card_path(REPO_MODEL_DIR, "libx264")):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_a_stub_is_scored_on_every_row_beside_the_out_of_fold_predictions(shipped):
    data = synthetic_codec_data("libx264", 10, 12, 0.5, 1)
    oof = data.target + np.random.default_rng(0).normal(0, 2.0, data.n_rows).astype(np.float32)
    result = compare_with_incumbent(data, _folds(data, oof), shipped)
    stub_pred = ort_predict(model_path(shipped, "libx264").read_bytes(), data.features)[:, 0]
    assert result["comparable"] and result["kind"] == "stub"
    assert result["sha256"] == sha256_file(model_path(shipped, "libx264"))
    assert (result["n_rows"], result["n_sources"]) == (120, 10)
    assert result["plcc"] == pytest.approx(plcc(stub_pred, data.target))
    assert result["challenger"]["plcc"] == pytest.approx(plcc(oof, data.target))
    assert result["crf_pick"] is None and result["challenger"]["crf_pick"] is None  # no quality ladders here


def test_a_production_model_is_scored_only_on_sources_its_card_does_not_list(shipped):
    data = synthetic_codec_data("libx264", 10, 12, 0.5, 1)
    seen = sorted(set(data.sources.tolist()))[:6]
    card = _card(seen, sha256_file(model_path(shipped, "libx264")))
    card_path(shipped, "libx264").write_text(card, encoding="utf-8")
    oof = data.target.copy()
    result = compare_with_incumbent(data, _folds(data, oof), shipped)
    unseen = ~np.isin(data.sources, seen)
    assert result["kind"] == "production" and (result["n_rows"], result["n_sources"]) == (int(unseen.sum()), 4)
    stub_pred = ort_predict(model_path(shipped, "libx264").read_bytes(), data.features[unseen])[:, 0]
    assert result["plcc"] == pytest.approx(plcc(stub_pred, data.target[unseen]))
    assert result["challenger"]["plcc"] == pytest.approx(1.0) and result["challenger"]["rmse"] == pytest.approx(0.0)

    card_path(shipped, "libx264").write_text(_card(sorted(set(data.sources.tolist())),
                                                   sha256_file(model_path(shipped, "libx264"))))
    assert compare_with_incumbent(data, _folds(data, oof), shipped)["reason"].startswith("no unseen sources")


@pytest.mark.parametrize(("damage", "reason"), [
    ("no-model", "shipped model or card missing"),
    ("no-card", "shipped model or card missing"),
    ("no-section", "no provenance"),
    ("other-model", "card does not describe predictor_libx264.onnx"),
    ("garbage-model", "cannot be run by onnxruntime"),
])
def test_what_cannot_be_compared_says_why(shipped, damage, reason):
    data = synthetic_codec_data("libx264", 6, 5, 0.5, 1)
    model, card = model_path(shipped, "libx264"), card_path(shipped, "libx264")
    text = card.read_text()
    if damage == "no-model":
        model.unlink()
    elif damage == "no-card":
        card.unlink()
    elif damage == "no-section":
        card.write_text(text[:text.index("## Training provenance")] + text[text.index("## Op allowlist"):])
    elif damage == "other-model":
        model.write_bytes(model.read_bytes() + b"\0")
    else:
        model.write_bytes(b"not onnx")
        card.write_text(text.replace(text.split("- sha256: `")[-1][:64], sha256_file(model)))
    result = compare_with_incumbent(data, _folds(data, data.target), shipped)
    assert result["comparable"] is False and reason in result["reason"]


def test_quality_picks_per_source_pool_to_the_picks_over_all_rows():
    rng = np.random.default_rng(0)
    rows, target, names = [], [], []
    for source in range(4):
        level, kbps = rng.uniform(-8, 4), rng.uniform(500, 4000)
        for crf in range(18, 46, 3):
            rows.append([crf, kbps, 0, 0, 0, 0, 0, 0, 0, 0, 100, 24, 1920, 1080])
            target.append(97 + level - 1.6 * (crf - 18))
            names.append(f"s{source}")
    features, truth = np.array(rows, np.float32), np.array(target, np.float32)
    kbps = np.full(truth.size, np.nan)

    def model(x):
        return 96 - 1.5 * (x[:, 0] - 18)

    by_source = crf_pick_by_group(features, truth, kbps, "libx264", model, np.array(names))
    assert sorted(by_source) == ["s0", "s1", "s2", "s3"]
    pooled, whole = pool(list(by_source.values())), crf_pick_metrics(features, truth, kbps, "libx264", model)
    assert pooled["n"] == whole["n"]
    assert pooled["mean_abs_quality_error"] == pytest.approx(whole["mean_abs_quality_error"])


# --- the rule ------------------------------------------------------------------------------------

def _incumbent(ours: float, theirs: float, our_steps: float | None = None, their_steps: float | None = None):
    def pick(steps):
        return None if steps is None else {"n": 10, "mean_abs_quality_error": steps}

    return {"comparable": True, "kind": "production", "sha256": "ab" * 32, "n_rows": 40, "n_sources": 4,
            "plcc": theirs, "rmse": 2.0, "crf_pick": pick(their_steps),
            "challenger": {"plcc": ours, "rmse": 3.0, "crf_pick": pick(our_steps)}}


def test_worse_than_incumbent_needs_a_real_margin_and_names_the_numbers():
    assert regression(_incumbent(0.9660, 0.9700)) is None  # lower by 0.004: within the margin
    reason = regression(_incumbent(0.9640, 0.9700))
    assert reason.startswith("worse-than-incumbent: on 40 rows from 4 sources the shipped production model")
    assert "PLCC 0.9640 vs shipped 0.9700 (lower by 0.0060 > 0.005)" in reason and "RMSE 3.00 vs shipped 2.00" in reason
    assert regression(_incumbent(0.99, 0.97, 2.4, 2.0)) is None
    steps = regression(_incumbent(0.99, 0.97, 2.6, 2.0))
    assert "CRF-pick error 2.60 vs shipped 2.00 steps (larger by 0.60 > 0.5)" in steps
    assert regression({"comparable": False, "reason": "x"}) is None and regression(None) is None


# --- whole runs: promote from A, challenge on B ------------------------------------------------------

def test_env_allow_regression_is_read_and_the_console_refuses_the_flag(capsys):
    from console.cli import main as console_main
    from trainer.run.cli import build_parser
    from trainer.run.config import resolve_config

    args = build_parser("python -m trainer").parse_args([])
    assert resolve_config(args, env={"ALLOW_REGRESSION": "1"}).allow_regression
    assert not resolve_config(args, env={}).allow_regression
    assert console_main(["--allow-regression"]) == 2
    assert "--allow-regression only apply with --batch" in capsys.readouterr().err


@pytest.mark.slow
def test_promote_from_a_then_a_worse_challenger_on_b_is_blocked_unless_allowed(tmp_path, capsys):
    from tests.conftest import CHAMPION_A_EPOCHS, CHAMPION_B_EPOCHS, write_champion_corpora
    from trainer.run.cli import main
    from trainer.shipping.cards import status_line

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for path in (model_path(REPO_MODEL_DIR, "libx265"), card_path(REPO_MODEL_DIR, "libx265")):
        shutil.copy(path, model_dir / path.name)
    corpus_a, corpus_b = write_champion_corpora(tmp_path / "corpora")
    model, card = model_path(model_dir, "libx265"), card_path(model_dir, "libx265")

    def run(corpus: Path, epochs: str, *extra: str) -> tuple[dict, str]:
        out = tmp_path / f"runs{len(list(tmp_path.glob('runs*')))}"
        assert main(["--corpus", str(corpus), "--codec", "libx265", "--model-dir", str(model_dir), "--out-dir",
                     str(out), "--epochs", epochs, "--summary-md", str(out / "summary.md"), "--yes", *extra]) == 0
        return json.loads((out / "report.json").read_text()), (out / "summary.md").read_text()

    # 1. A against the shipped stub: the stub saw no real source, so it is scored on every row.
    stub_sha = sha256_file(model)
    report, _md = run(corpus_a, CHAMPION_A_EPOCHS)
    incumbent = report["codecs"][0]["incumbent"]
    assert incumbent["kind"] == "stub" and incumbent["sha256"] == stub_sha
    assert (incumbent["n_rows"], incumbent["n_sources"]) == (240, 10)
    assert status_line(card.read_text()).startswith("## Status: Production")
    provenance = read_provenance(card.read_text())
    assert provenance.sources == tuple(f"libx265_src{i:03d}" for i in range(10)) and not provenance.synthetic
    assert any(f.startswith("`corpus.jsonl` (") for f in provenance.files)
    a_sha = sha256_file(model)
    assert "vs shipped stub" in capsys.readouterr().out

    # 2. B: the A model is scored on B's 48 new sources only; the challenger is worse there: blocked.
    report, md = run(corpus_b, CHAMPION_B_EPOCHS)
    codec = report["codecs"][0]
    incumbent = codec["incumbent"]
    assert codec["status"] == "pass"
    assert incumbent["kind"] == "production" and incumbent["sha256"] == a_sha
    assert (incumbent["n_rows"], incumbent["n_sources"]) == (960, 48)
    ours, theirs = incumbent["challenger"]["plcc"], incumbent["plcc"]
    assert ours < theirs - 0.005
    [reason] = report["promotion"]["blocked"]["libx265"]
    assert reason.startswith("worse-than-incumbent: on 960 rows from 48 sources the shipped production model")
    assert f"PLCC {ours:.4f} vs shipped {theirs:.4f} (lower by {theirs - ours:.4f} > 0.005)" in reason
    assert sha256_file(model) == a_sha  # not replaced
    assert "promotion blocked: worse-than-incumbent" in card.read_text()
    assert f"| {ours:.4f} vs {theirs:.4f} (production, 960 rows) |" in md
    assert "vs shipped production" in capsys.readouterr().out

    # 3. The same run with --allow-regression: applied, and the card says why it ships anyway.
    report, _md = run(corpus_b, CHAMPION_B_EPOCHS, "--allow-regression")
    assert report["promotion"]["blocked"] == {} and sha256_file(model) != a_sha
    text = card.read_text()
    assert status_line(text).startswith("## Status: Production")
    assert f"- regression allowed: {reason} -- promoted anyway: --allow-regression" in text
    assert len(read_provenance(text).sources) == 58
