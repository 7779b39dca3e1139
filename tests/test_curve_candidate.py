"""The content-blind curve as a nested-LOSO candidate, chosen by the CRF it makes the harness pick."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.ladder_corpora import bpp_ladder_rows, constant_quality_rows, write_rows
from trainer.core.features import FEATURE_NAMES, QUALITY_INPUT
from trainer.ingest.corpus import load_corpus
from trainer.learning.choice_rule import CRF_PICK, RMSE, PickScoring, one_standard_error_choice, scorable
from trainer.learning.crf_pick import has_pick_ladders
from trainer.learning.curve_candidate import curve_applies, curve_observed
from trainer.learning.planning import build_final_task, build_fold_tasks
from trainer.learning.profiles import DEFAULT_PROFILE, NESTED_PROFILE
from trainer.learning.selection import CURVE, LINE, FoldChoice, candidates, final_choice, profile_for
from trainer.learning.tasks import run_final_task, run_fold_task
from trainer.shipping.plan import model_choice_line


def test_the_simplest_candidate_within_one_standard_error_of_the_best_is_chosen():
    per_source = {"shrink=6": {"a": 1.0, "b": 2.0, "c": 3.0}, CURVE: {"a": 2.0, "b": 2.5, "c": 3.5}}
    # best: the network, mean 2.0, standard error 1/sqrt(3) = 0.577; the curve's 2.67 is beyond it
    verdict = one_standard_error_choice(per_source, [CURVE, "shrink=6"])
    assert verdict.chosen == "shrink=6"
    assert verdict.standard_error == pytest.approx(1 / np.sqrt(3))
    per_source[CURVE] = {"a": 1.5, "b": 2.5, "c": 2.5}  # mean 2.17: within one standard error of 2.0
    assert one_standard_error_choice(per_source, [CURVE, "shrink=6"]).chosen == CURVE
    assert one_standard_error_choice(per_source, ["shrink=6", CURVE]).chosen == "shrink=6"  # order = simplicity


def test_picks_choose_only_when_every_candidate_is_scored_on_the_same_sources():
    assert scorable({"x": {"a": 1.0, "b": 1.0, "c": 1.0}, "y": {"a": 2.0, "b": 1.0, "c": 0.0}})
    assert not scorable({"x": {"a": 1.0, "b": 1.0, "c": 1.0}, "y": {"a": 2.0, "b": 1.0}})
    assert not scorable({"x": {"a": 1.0, "b": 1.0}, "y": {"a": 2.0, "b": 1.0}})  # too few for an error bar
    assert not scorable({})


def test_the_curve_is_offered_where_quality_and_some_other_input_are_live(tmp_path):
    data = load_corpus([write_rows(tmp_path / "c.jsonl", constant_quality_rows())]).for_codec("libx264")
    everything = np.ones(data.n_rows, dtype=bool)
    assert curve_applies(data.features, everything, data.observed, True)
    assert [c.name for c in candidates(DEFAULT_PROFILE, False, True)] == ["shrink=6", CURVE]
    assert [c.name for c in candidates(NESTED_PROFILE, False, True)][-1] == CURVE
    assert [c.name for c in candidates(dataclasses.replace(DEFAULT_PROFILE, curve_candidate=False), False, True)] == [
        "shrink=6"]
    only_quality = data.features.copy()
    only_quality[:, 1:] = only_quality[0, 1:]
    assert not curve_applies(only_quality, everything, data.observed, True), "the curve would be the network"
    no_quality = data.features.copy()
    no_quality[:, QUALITY_INPUT] = 28.0
    assert not curve_applies(no_quality, everything, data.observed, True)
    assert list(np.flatnonzero(curve_observed(None))) == [QUALITY_INPUT]
    assert not curve_observed(np.zeros(14, dtype=bool)).any()


@pytest.fixture(scope="module")
def constant_quality(tmp_path_factory):
    """10 sources x CRF 18..45, offsets of 3 VMAF no input explains (the real sweep's clips spread
    about that much at one CRF), trained as the default trains."""
    rows = constant_quality_rows(n_sources=10, crfs=range(18, 46), seed=3, offset_sigma=3.0)
    data = load_corpus([write_rows(tmp_path_factory.mktemp("cq") / "cq.jsonl", rows)]).for_codec("libx264")
    return data, [r for task in build_fold_tasks(data, DEFAULT_PROFILE, seed=0) for r in run_fold_task(task)]


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_where_crf_alone_decides_quality_every_fold_chooses_the_curve_by_its_picks(constant_quality):
    data, folds = constant_quality
    for fold in folds:
        choice = fold.model_choice
        assert choice.criterion == CRF_PICK
        assert set(choice.inner_pick) == {"shrink=6", CURVE} and choice.inner_pick_se > 0
        report = choice.as_report()
        assert report["criterion"] == CRF_PICK and set(report["outer_crf_pick"]) == {"shrink=6", CURVE}
    # inner folds of 6-7 sources are noisy: one fold may still prefer the network
    assert sum(f.model_choice.chosen == CURVE for f in folds) >= 4, [f.model_choice.as_report() for f in folds]
    final = final_choice([f.model_choice for f in folds])
    assert final is not None and final["chosen"] == CURVE and final["criterion"] == CRF_PICK
    assert set(final["mean_outer_crf_pick"]) == {"shrink=6", CURVE} and final["outer_crf_pick_se"] > 0
    shipped = run_final_task(build_final_task(data, DEFAULT_PROFILE, seed=0, model_choice=final))
    used = [FEATURE_NAMES[i] for i in np.flatnonzero(np.abs(shipped.w1[0]).sum(1) > 0)]
    assert used == ["crf"], "the curve reads the quality input alone"
    line = model_choice_line(final)
    assert line.startswith("- model: `curve` (the content-blind curve") and "CRF-pick error" in line


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_a_folds_pick_choice_ignores_its_outer_held_out_targets(constant_quality):
    data, folds = constant_quality
    (task,) = build_fold_tasks(data, DEFAULT_PROFILE, seed=0)
    poisoned = data.target.copy()
    poisoned[task.held_out[0]] = 100.0 - poisoned[task.held_out[0]]
    again = run_fold_task(dataclasses.replace(task, target=poisoned))
    assert again[0].model_choice.inner_pick == folds[0].model_choice.inner_pick
    assert again[0].model_choice.chosen == folds[0].model_choice.chosen
    assert again[0].model_choice.outer_pick_by_source != folds[0].model_choice.outer_pick_by_source


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_where_content_decides_quality_the_network_beats_the_curve(tmp_path):
    rows = bpp_ladder_rows(n_sources=10, crfs=range(18, 46))
    data = load_corpus([write_rows(tmp_path / "bpp.jsonl", rows)]).for_codec("libx264")
    folds = [r for task in build_fold_tasks(data, DEFAULT_PROFILE, seed=0) for r in run_fold_task(task)]
    assert all(f.model_choice.criterion == CRF_PICK for f in folds)
    assert [f.model_choice.chosen for f in folds] == ["shrink=6"] * 5
    for fold in folds:
        assert fold.model_choice.inner_pick["shrink=6"] < fold.model_choice.inner_pick[CURVE] / 2
    assert final_choice([f.model_choice for f in folds])["chosen"] == "shrink=6"


def test_without_pick_scores_the_final_choice_falls_back_to_rmse_and_the_curve_profile_is_set():
    choices = [FoldChoice(LINE, {}, {LINE: 3.0, "shrink=6": 4.0}),
               FoldChoice("shrink=6", {}, {LINE: 3.0, "shrink=6": 1.0})]
    assert final_choice(choices) == {"chosen": "shrink=6", "criterion": RMSE,
                                     "mean_outer_rmse": {LINE: 3.0, "shrink=6": 2.5}}
    assert profile_for(DEFAULT_PROFILE, {"chosen": CURVE}).train_curve
    assert not profile_for(DEFAULT_PROFILE, {"chosen": "shrink=6"}).train_curve


@pytest.mark.usefixtures("one_torch_thread")
def test_without_quality_ladders_the_curve_is_not_offered_and_training_is_as_before():
    """Rows at scattered CRFs (no ladder of >= 3 points): no pick to judge the curve by, so no choice runs."""
    from trainer.ingest.synthetic import synthetic_codec_data

    data = synthetic_codec_data("libx264", 10, 12, 0.5, 1)
    assert not has_pick_ladders(data.features, data.ladders)
    folds = [r for task in build_fold_tasks(data, DEFAULT_PROFILE, seed=0) for r in run_fold_task(task)]
    assert all(f.model_choice is None and f.crf_pick is None for f in folds)


def test_pick_ladders_need_three_quality_points_on_one_ladder():
    features = np.zeros((4, 14), dtype=np.float32)
    features[:, QUALITY_INPUT] = [20, 30, 20, 30]
    assert not has_pick_ladders(features)
    features[3, QUALITY_INPUT] = 40
    assert has_pick_ladders(features)
    assert not has_pick_ladders(features, np.array([0, 0, 1, 1])), "two ladders of two points each"
    assert not has_pick_ladders(features[:0])


@pytest.mark.slow
def test_the_log_names_each_folds_choice_and_the_final_one(constant_quality):
    from trainer.learning.events import CodecFinished, FoldFinished
    from trainer.learning.results import CodecResult
    from trainer.outputs.describe import describe_event

    _data, folds = constant_quality
    fold_line = describe_event(FoldFinished(folds[0], 1, 5))
    assert f"; model: `{folds[0].model_choice.chosen}` (" in fold_line and "(inner folds)" in fold_line
    assert "chosen by nested LOSO on CRF-pick error" in fold_line
    result = CodecResult(codec="libx264", status="fail", mean_plcc=0.9, plcc_spread=0.1, n_rows_total=280,
                         n_distinct_sources=10, folds=list(folds))
    final = describe_event(CodecFinished(result))
    assert "\n    model: `curve` (the content-blind curve: the network on the quality input alone), chosen by " \
           "nested LOSO on CRF-pick error (steps, per source; paired standard error " in final
    assert "(outer folds)" in final


def _mixed_rows() -> list[dict[str, object]]:
    """One codec's corpus of CRF sweeps beside bitrate ladders (no quality input), as ``--corpus-root``
    over the real NFLX and sweep files gives: picks can be scored on the sweeps alone."""
    sweeps = constant_quality_rows(n_sources=6, crfs=range(18, 46, 3), seed=1)
    ladders = [{k: v for k, v in row.items() if k != "crf"} | {"src": f"ladder{row['src']}"}
               for row in bpp_ladder_rows(n_sources=6, seed=2)]
    return sweeps + ladders


def test_every_held_out_source_needs_a_ladder_for_picks_to_choose(tmp_path):
    data = load_corpus([write_rows(tmp_path / "mixed.jsonl", _mixed_rows())]).for_codec("libx264")
    picks = PickScoring("libx264", np.full(data.n_rows, np.nan), data.sources, data.ladders)
    sweep = np.char.startswith(data.sources.astype(str), "clip")
    assert picks.all_laddered(data.features, sweep)
    assert not picks.all_laddered(data.features, np.ones(data.n_rows, dtype=bool))
    by_picks = FoldChoice(CURVE, {}, {CURVE: 9.0, "shrink=6": 3.0}, CRF_PICK, {}, 0.1,
                          {CURVE: {"a": 1.0, "b": 1.0, "c": 1.0}, "shrink=6": {"a": 2.0, "b": 2.0, "c": 2.0}},
                          (CURVE, "shrink=6"), outer_laddered=False)
    final = final_choice([by_picks])
    assert final is not None and final["criterion"] == RMSE and final["chosen"] == "shrink=6"
    assert final_choice([dataclasses.replace(by_picks, outer_laddered=True)])["chosen"] == CURVE


@pytest.mark.usefixtures("one_torch_thread")
def test_beside_sources_without_ladders_the_sweeps_alone_train_and_choose_by_their_picks(tmp_path):
    """A bitrate ladder carries no quality to pick on, so beside CRF sweeps it neither trains nor chooses the
    model the harness picks with (learning.row_kinds, issue #37); its rows are still judged in their folds."""
    data = load_corpus([write_rows(tmp_path / "mixed.jsonl", _mixed_rows())]).for_codec("libx264")
    everything = np.ones(data.n_rows, dtype=bool)
    assert curve_applies(data.features, everything, data.observed, True) and has_pick_ladders(data.features)
    folds = [r for task in build_fold_tasks(data, DEFAULT_PROFILE, seed=0) for r in run_fold_task(task)]
    assert all(f.model_choice is not None and f.model_choice.criterion == CRF_PICK for f in folds)
    assert all(set(f.model_choice.inner_pick) == {"shrink=6", CURVE} for f in folds)
    assert sum(f.n_val for f in folds) == data.n_rows  # every row, ladder or sweep, judged once


@pytest.mark.slow
def test_a_report_read_back_gives_the_same_choices(constant_quality):
    """Review mode rebuilds results from report.json: each fold's choice and the final one come back whole."""
    import json

    from trainer.learning.results import CodecResult
    from trainer.outputs.report import REPORT_SCHEMA_VERSION
    from trainer.outputs.report_reader import codec_results

    data, folds = constant_quality
    result = CodecResult(codec="libx264", status="fail", n_rows_total=data.n_rows, n_distinct_sources=data.n_sources,
                         folds=list(folds), mean_plcc=0.9, plcc_spread=0.1)
    report = json.loads(json.dumps({"schema_version": REPORT_SCHEMA_VERSION, "codecs": [result.as_report()]}))
    again = codec_results(report)["libx264"]
    assert [f.model_choice for f in again.folds] == [f.model_choice for f in folds]
    assert again.model_choice() == result.model_choice() and again.model_choice()["chosen"] == CURVE


@pytest.mark.slow
def test_an_older_report_shows_the_choice_it_recorded_and_a_malformed_one_is_refused(constant_quality, tmp_path):
    """A report from the release before folds kept their per-source pick errors cannot recompute the
    final choice (it fell back to RMSE in review); the recorded one is what shipped. A model_choice
    that is not an object is a malformed report, not a crash."""
    import json

    from trainer.learning.results import CodecResult
    from trainer.outputs.report import REPORT_SCHEMA_VERSION
    from trainer.outputs.report_reader import ReportUnreadable, codec_results, read_report

    data, folds = constant_quality
    result = CodecResult(codec="libx264", status="fail", n_rows_total=data.n_rows, n_distinct_sources=data.n_sources,
                         folds=list(folds), mean_plcc=0.9, plcc_spread=0.1)
    report = json.loads(json.dumps({"schema_version": REPORT_SCHEMA_VERSION, "codecs": [result.as_report()]}))
    for fold in report["codecs"][0]["folds"]:
        for key in ("outer_crf_pick_by_source", "simplest_first", "outer_laddered"):
            del fold["model_choice"][key]
    again = codec_results(report)["libx264"]
    assert again.model_choice() == result.model_choice() and again.model_choice()["criterion"] == CRF_PICK
    first = report["codecs"][0]["folds"][0]["model_choice"]
    for bad in ("curve", ["curve"], {**first, "outer_crf_pick_by_source": ["a"]}):
        report["codecs"][0]["folds"][0]["model_choice"] = bad
        (path := tmp_path / "report.json").write_text(json.dumps(report))
        with pytest.raises(ReportUnreadable, match="malformed"):
            read_report(path)
    report["codecs"][0]["folds"][0]["model_choice"] = None
    report["codecs"][0]["model_choice"] = "curve"
    (path := tmp_path / "report.json").write_text(json.dumps(report))
    with pytest.raises(ReportUnreadable, match="malformed"):
        read_report(path)
