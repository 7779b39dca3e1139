"""The paired choice rule, every rule's record, the ridge's verdict on each rule, and mixed tables (issue #37)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.ladder_corpora import constant_quality_rows, write_rows
from tests.line_corpora import line_rows
from trainer.bench.choice_eval import RuleScore, draw_subsets, subset_data, summarise
from trainer.ingest.corpus import load_corpus
from trainer.learning.choice_risk import ridge_beats
from trainer.learning.choice_rule import (
    CHOICE_RULES,
    CRF_PICK,
    DEFAULT_RULES,
    LOWEST,
    ONE_SE,
    PAIRED,
    RMSE,
    choose,
    default_rule,
    one_standard_error_choice,
    paired_choice,
)
from trainer.learning.planning import build_final_task, build_fold_tasks, fold_plan
from trainer.learning.profiles import DEFAULT_PROFILE
from trainer.learning.selection import FoldChoice
from trainer.learning.tasks import run_final_task, run_fold_task
from trainer.outputs.describe import codec_notes

SIMPLEST_FIRST = ["line-bpp", "line-ladder", "shrink=6"]


def _hard_and_easy_sources(n: int = 16, seed: int = 5) -> np.ndarray:
    """Per-source RMSE of real ladders: some sources are far harder than others (8-30 VMAF)."""
    return np.random.default_rng(seed).uniform(8, 30, n)


def test_paired_rule_refuses_a_simpler_line_that_is_worse_on_every_source_where_one_se_takes_it():
    """The UHD-ladder case: `line-bpp` 6 % worse than `line-ladder` on every source, the network worst.
    The spread over sources (one standard error of about 1.9 VMAF here) hides the 1.2 VMAF gap from the
    unpaired rule; paired differences do not."""
    base = _hard_and_easy_sources()
    per_source = {"line-bpp": base * 1.06, "line-ladder": base, "shrink=6": base * 1.2}
    per_source = {name: {f"s{i}": float(v) for i, v in enumerate(values)} for name, values in per_source.items()}
    assert one_standard_error_choice(per_source, SIMPLEST_FIRST).chosen == "line-bpp"
    verdict = paired_choice(per_source, SIMPLEST_FIRST)
    assert verdict.chosen == "line-ladder"
    assert verdict.standard_error > 0  # the margin the runner-up lost by


def test_paired_rule_keeps_the_simpler_candidate_when_the_two_trade_sources():
    base = _hard_and_easy_sources()
    swing = np.random.default_rng(9).normal(0.0, 2.0, base.size)
    swing -= swing.mean() + 0.1  # the richer one is 0.1 better on average, by noise
    per_source = {"line-bpp": {f"s{i}": float(v) for i, v in enumerate(base)},
                  "shrink=6": {f"s{i}": float(v) for i, v in enumerate(base + swing)}}
    verdict = paired_choice(per_source, ["line-bpp", "shrink=6"])
    assert verdict.chosen == "line-bpp"
    assert verdict.standard_error == pytest.approx(np.std(-swing, ddof=1) / np.sqrt(base.size))
    # identical candidates: the simpler
    assert paired_choice({"a": {"x": 1.0, "y": 2.0}, "b": {"x": 1.0, "y": 2.0}}, ["b", "a"]).chosen == "b"


def test_choose_records_every_rule_and_decides_by_the_criterions_default():
    """Picks choose by the paired rule, per-source RMSE by the lowest mean (DEFAULT_RULES)."""
    base = _hard_and_easy_sources()
    per_source = {"line-bpp": base * 1.03, "line-ladder": base, "shrink=6": base * 0.99}
    per_source = {name: {f"s{i}": float(v) for i, v in enumerate(values)} for name, values in per_source.items()}
    assert DEFAULT_RULES == {CRF_PICK: PAIRED, RMSE: LOWEST}
    for criterion in (CRF_PICK, RMSE):
        verdict, by_rule = choose(per_source, SIMPLEST_FIRST, criterion)
        assert set(by_rule) == set(CHOICE_RULES) == {PAIRED, ONE_SE, LOWEST}
        assert verdict.chosen == by_rule[default_rule(criterion)]
    assert by_rule[LOWEST] == "shrink=6" and by_rule[ONE_SE] == "line-bpp"


def _fold(rule_choices: dict[str, str], plcc: dict[str, float], rmse: dict[str, float], ridge: tuple[float, float]):
    return FoldChoice(rule_choices[default_rule(RMSE)], {}, dict(rmse), rule_choices=rule_choices,
                      outer_plcc=dict(plcc), ridge_plcc=ridge[0], ridge_rmse=ridge[1])


def test_ridge_beats_counts_the_folds_each_rule_lost_to_the_ridge_beyond_the_margins():
    rules = {PAIRED: "line-ladder", ONE_SE: "line-bpp", LOWEST: "shrink=6"}
    plcc = {"line-bpp": 0.60, "line-ladder": 0.70, "shrink=6": 0.698}
    rmse = {"line-bpp": 21.0, "line-ladder": 20.0, "shrink=6": 20.4}
    folds = [_fold(rules, plcc, rmse, (0.70, 20.0)) for _ in range(4)] + [_fold(rules, plcc, rmse, (0.50, 25.0))]
    beats = ridge_beats(folds)
    assert beats == {PAIRED: {"plcc": 0, "rmse": 0, "of": 5}, ONE_SE: {"plcc": 4, "rmse": 4, "of": 5},
                     LOWEST: {"plcc": 0, "rmse": 0, "of": 5}}  # within 0.005 PLCC and 0.5 RMSE is not beaten
    assert ridge_beats([FoldChoice("x", {}, {})]) is None  # no rules recorded: nothing to say
    back = FoldChoice.from_report(folds[0].as_report())
    assert back == folds[0]


def test_the_report_carries_every_rules_choice_and_the_ridge_risk(tmp_path):
    """A real nested choice on a bitrate-ladder corpus where a line is right: each fold records what
    every rule chose, each candidate's outer PLCC, and the ridge on the same rows; the codec's choice
    says how often the ridge beat each rule."""
    data = load_corpus([write_rows(tmp_path / "l.jsonl", line_rows(12, seed=3))]).for_codec("libx265")
    folds = [r for task in build_fold_tasks(data, DEFAULT_PROFILE, 0) for r in run_fold_task(task)]
    for fold in folds:
        choice = fold.model_choice
        assert choice is not None and set(choice.rule_choices) == set(CHOICE_RULES)
        assert choice.chosen == choice.rule_choices[default_rule(choice.criterion)]
        assert set(choice.outer_plcc) == set(choice.outer_rmse)
        assert choice.ridge_plcc == pytest.approx(fold.baseline_plcc)  # a table of one kind: the same rows
    beats = ridge_beats([f.model_choice for f in folds])
    assert beats is not None and all(b["of"] == 5 for b in beats.values())


def _mixed_corpus(tmp_path, poison: float = 0.0):
    """A CRF sweep (quality ladders) and a bitrate-ladder corpus of the same codec, in two files."""
    ladders = line_rows(40, seed=1, codec="libx264")
    for row in ladders:
        row["vmaf_score"] = float(np.clip(row["vmaf_score"] + poison, 0, 100))
        row["src"] = f"ladder-{row['src']}"
    files = [write_rows(tmp_path / "sweep.jsonl", constant_quality_rows(n_sources=12)),
             write_rows(tmp_path / f"ladders{poison}.jsonl", ladders)]
    return load_corpus(files).for_codec("libx264")


def test_a_mixed_table_trains_on_its_quality_ladders_alone_so_its_picks_do_not_move(tmp_path):
    """What the harness picks with must not depend on rows that carry no quality: poisoning the
    bitrate ladders' VMAF changes neither a fold model's predictions on the sweep nor the shipped
    model, while those rows are still judged in their folds."""
    data, poisoned = _mixed_corpus(tmp_path), _mixed_corpus(tmp_path, poison=-30.0)
    rows = fold_plan(data, 0).pick_rows
    assert rows is not None and rows.sum() == 12 * 10 and (~rows).sum() == 40 * 6
    note = next(n for n in codec_notes(data, rows) if n.startswith("mixed table"))
    assert "120 rows of 12 sources that state a quality" in note and "240 rows (40 sources" in note
    assert fold_plan(load_corpus([write_rows(tmp_path / "s.jsonl", constant_quality_rows())])
                     .for_codec("libx264"), 0).pick_rows is None  # a table of one kind trains as before
    clean = [r for t in build_fold_tasks(data, DEFAULT_PROFILE, 0) for r in run_fold_task(t)]
    dirty = [r for t in build_fold_tasks(poisoned, DEFAULT_PROFILE, 0) for r in run_fold_task(t)]
    for a, b in zip(clean, dirty, strict=True):
        on_sweep = rows[a.held_out_rows]
        np.testing.assert_array_equal(a.predictions[on_sweep], b.predictions[on_sweep])
        assert a.crf_pick == b.crf_pick and a.n_val == b.n_val
        assert a.model_choice is not None and a.model_choice.criterion == "crf_pick"  # the sweep chose, by picks
    final = [run_final_task(build_final_task(d, DEFAULT_PROFILE, 0, None)) for d in (data, poisoned)]
    np.testing.assert_array_equal(final[0].w1, final[1].w1)


@pytest.mark.slow
def test_the_engine_queues_a_mixed_table_with_the_rows_it_trains_on_and_the_log_says_so(tmp_path):
    """The engine plans the folds once and hands the same cut to the queued event, the fold tasks and the
    run log's corpus note."""
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    from trainer.engine.engine import TrainingEngine
    from trainer.learning.events import CodecQueued
    from trainer.outputs.describe import describe_event

    data, events = _mixed_corpus(tmp_path), []
    engine = TrainingEngine(replace(DEFAULT_PROFILE, epochs=5), seed=0, emit=events.append,
                            executor_factory=lambda: ThreadPoolExecutor(2), workers=2)
    try:
        engine.submit("libx264", lambda: data)
        engine.run_until_idle()
    finally:
        engine.close()
    [queued] = [e for e in events if isinstance(e, CodecQueued)]
    expected = fold_plan(data, 0).pick_rows
    assert expected is not None and queued.trained_rows is not None
    np.testing.assert_array_equal(queued.trained_rows, expected)
    assert "mixed table: the model trains and is chosen on the 120 rows of 12 sources" in describe_event(queued)


def test_quality_ladders_too_few_to_stand_alone_leave_the_table_whole(tmp_path):
    """Three CRFs of a few clips among bitrate ladders are not a corpus: cutting to them left a fold with
    nothing to train on, and every fold of the codec ended in TrainingDiverged. Below the gate's five
    sources, or where a fold would keep none of them to train on, the whole table trains."""
    ladders = line_rows(40, seed=1, codec="libx264")
    for row in ladders:
        row["src"] = f"ladder-{row['src']}"
    for n_sweep in (1, 4):
        files = [write_rows(tmp_path / f"sweep{n_sweep}.jsonl", constant_quality_rows(n_sources=n_sweep)),
                 write_rows(tmp_path / "ladders.jsonl", ladders)]
        data = load_corpus(files).for_codec("libx264")
        plan = fold_plan(data, 0)
        assert plan.pick_rows is None
        results = [r for t in build_fold_tasks(data, DEFAULT_PROFILE, 0, plan=plan) for r in run_fold_task(t)]
        assert len(results) == 5 and all(np.isfinite(r.plcc) for r in results)


def test_subsets_are_seeded_and_cut_every_row_array_alike(tmp_path):
    data = _mixed_corpus(tmp_path)
    subsets = draw_subsets(data.sources, (9, 12), 3)
    assert subsets == draw_subsets(data.sources, (9, 12), 3)
    assert [len(s.sources) for s in subsets] == [9, 9, 9, 12, 12, 12]
    assert all(len(set(s.sources)) == len(s.sources) for s in subsets)
    cut = subset_data(data, subsets[0])
    assert set(cut.sources) == set(subsets[0].sources)
    assert cut.features.shape[0] == cut.target.shape[0] == cut.sources.shape[0] == cut.ladders.shape[0]
    with pytest.raises(ValueError, match="cannot draw"):
        draw_subsets(data.sources, (1000,), 1)


def test_the_summary_counts_a_constant_model_as_below_the_ridge():
    seeds = {"a": [RuleScore(0.80, 10.0, 0.80, 10.0)], "b": [RuleScore(0.70, 12.0, 0.80, 10.0)],
             "c": [RuleScore(float("nan"), 15.0, 0.80, 10.0)], "d": [RuleScore(0.90, 9.0, 0.80, 10.0)]}
    summary = summarise(seeds, PAIRED)
    assert summary.n_subsets == 4
    assert summary.share_below_plcc == pytest.approx(0.5)  # b, and c's NaN
    assert summary.share_above_rmse == pytest.approx(0.5)
    assert summary.mean_plcc_delta == pytest.approx(np.mean([0.0, -0.1, 0.1]))
