"""The data advisor: curve fits on known curves, the crossing and its range, the outlier rule, the verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainer.core.gate import SHIP_GATE_MEAN_PLCC
from trainer.ingest.synthetic import synthetic_codec_data
from trainer.learning.advice_task import AdviceOutcome, run_advice_task, subset_masks
from trainer.learning.advisor import (
    _judged,
    assemble_advice,
    corpus_sources_for,
    curve_points,
    curve_sizes,
    plan_advice,
)
from trainer.learning.learning_curve import Curve, fit_curve, fit_with_range, resamples
from trainer.learning.profiles import DEFAULT_PROFILE
from trainer.learning.source_errors import SourceError, mark_outliers, source_errors

SIZES = [3, 4, 5, 6, 8, 12]


def known(n: float, ceiling: float = 0.99, scale: float = 0.3, exponent: float = 1.0) -> float:
    return ceiling - scale * n ** -exponent


def test_fit_recovers_a_known_saturating_curve_and_its_crossing():
    fit = fit_curve(SIZES, [known(n) for n in SIZES], cap=1.0)
    assert fit.ceiling == pytest.approx(0.99, abs=1e-3)
    assert fit.exponent == pytest.approx(1.0, rel=0.05)
    # 0.99 - 0.3 / n = 0.95  ->  n = 7.5
    assert fit.crossing(SHIP_GATE_MEAN_PLCC) == pytest.approx(7.5, rel=0.05)


def test_a_curve_that_levels_off_below_the_bound_never_crosses_it():
    fit = fit_curve(SIZES, [known(n, ceiling=0.93) for n in SIZES], cap=1.0)
    assert fit.ceiling == pytest.approx(0.93, abs=1e-3)
    assert math.isinf(fit.crossing(SHIP_GATE_MEAN_PLCC))


def test_the_ceiling_never_exceeds_its_cap_and_a_falling_curve_is_flat():
    rising = fit_curve([3, 4, 5], [0.90, 0.99, 0.999], cap=1.0)
    assert rising.ceiling <= 1.0
    falling = fit_curve([3, 4, 5, 6], [0.94, 0.93, 0.92, 0.91], cap=1.0)
    assert falling.scale == 0.0
    assert falling.ceiling == pytest.approx(0.925)
    assert math.isinf(falling.crossing(SHIP_GATE_MEAN_PLCC))


def test_a_curve_already_over_the_bound_crosses_at_the_start():
    assert Curve(0.99, 0.0, 1.0, 0.0).crossing(0.95) == 1.0


def test_the_range_from_noisy_draws_brackets_the_true_crossing():
    rng = np.random.default_rng(3)
    draws = [[known(n) + rng.normal(0, 0.004) for _ in range(3)] for n in SIZES]
    fitted = fit_with_range(SIZES, draws, cap=1.0, seed=0)
    crossing = fitted.crossing(SHIP_GATE_MEAN_PLCC)
    assert crossing.low is not None and crossing.high is not None
    assert crossing.low <= 7.5 <= crossing.high
    assert crossing.low < crossing.high  # a range, not one confident number


def test_resamples_are_every_combination_when_few_and_seeded_when_many():
    assert len(resamples([3, 3], seed=0)) == 9
    many = resamples([3] * 8, seed=5)
    assert len(many) == 400 and many == resamples([3] * 8, seed=5)


def test_curve_sizes_and_corpus_sources():
    assert curve_sizes(2) == ()
    assert curve_sizes(7) == (3, 4, 5, 6, 7)
    assert curve_sizes(12) == (3, 4, 5, 6, 8, 12)
    assert curve_sizes(13) == (3, 4, 5, 6, 8, 13)
    # 9 sources: folds hold out 2,2,2,2,1 -> the smallest trains on 7
    assert corpus_sources_for(7) == 9
    assert corpus_sources_for(12) == 15
    assert math.isinf(corpus_sources_for(math.inf))


def test_outlier_rule_flags_only_sources_beyond_twice_the_median_rmse():
    errors = [SourceError(f"s{i}", i % 5, 10, 0.1, 2.0 + 0.1 * i) for i in range(8)]
    errors.append(SourceError("shifted", 2, 10, -15.0, 15.2))
    errors.append(SourceError("borderline", 3, 10, 1.0, 2.0 * 2.35))  # median is 2.35: exactly 2x is no outlier
    marked = mark_outliers(errors)
    assert [e.src for e in marked if e.outlier] == ["shifted"]
    assert marked[0].src == "shifted"
    assert "predicted 15.0 VMAF too low on average" in marked[0].reading()
    assert marked[1].reading() is None


def test_an_outlier_without_bias_reads_as_scattered_errors():
    scattered = SourceError("odd", 0, 10, 0.5, 9.0, outlier=True)
    assert "both directions" in scattered.reading()


def test_source_errors_are_bias_and_rmse_per_source():
    sources = np.array(["a", "a", "b", "b"])
    errors = source_errors(1, sources, np.array([11.0, 13.0, 5.0, 5.0]), np.array([10.0, 10.0, 6.0, 4.0]))
    assert [(e.src, e.fold, e.n_rows) for e in errors] == [("a", 1, 2), ("b", 1, 2)]
    assert errors[0].bias == pytest.approx(2.0) and errors[0].rmse == pytest.approx(math.sqrt(5.0))
    assert errors[1].bias == pytest.approx(0.0) and errors[1].rmse == pytest.approx(1.0)


def _outcomes(per_size: list[float], spread: float) -> list[AdviceOutcome]:
    """Five folds whose PLCC at each size sits around ``per_size`` with a fixed spread."""
    offsets = np.linspace(-spread / 2, spread / 2, 5)
    return [AdviceOutcome("libx264", k, np.array([[v + offsets[k] + 0.001 * d for d in range(3)] for v in per_size]),
                          []) for k in range(5)]


def test_verdicts_reachable_and_not_reachable():
    sizes = [3, 4, 5, 6, 8]
    reachable = curve_points(sizes, _outcomes([known(n, 0.995, 0.4, 1.2) for n in sizes], 0.004))
    judged = _judged(reachable, sources_now=10, seed=0)
    assert judged["verdict"] == "more-sources-likely-enough"
    assert judged["sources_for_mean"]["estimate"] is not None
    low, high = judged["sources_needed"]["low"], judged["sources_needed"]["high"]
    assert low is not None and low <= judged["sources_needed"]["estimate"] and (high is None or high >= low)
    flat = curve_points(sizes, _outcomes([known(n, 0.92, 0.1) for n in sizes], 0.004))
    judged = _judged(flat, sources_now=10, seed=0)
    assert judged["verdict"] == "not-reachable-with-these-inputs"
    assert judged["mean_plcc_ceiling"]["estimate"] < SHIP_GATE_MEAN_PLCC
    assert "more sources like these will not pass" in judged["reading"]
    wide = curve_points(sizes, _outcomes([known(n, 0.995, 0.2) for n in sizes], 0.05))
    assert _judged(wide, sources_now=10, seed=0)["verdict"] == "not-reachable-with-these-inputs"


def test_too_few_sources_gives_too_few_points_with_the_reason():
    data = synthetic_codec_data("libx264", 6, 8, 0.5, 0)
    tasks = plan_advice(data, DEFAULT_PROFILE, 0)
    assert tasks[0].sizes == (3, 4)
    outcomes = [AdviceOutcome("libx264", t.fold_index, np.full((2, 3), 0.9), []) for t in tasks]
    advice = assemble_advice(data, tasks, outcomes, 0)
    assert advice["verdict"] == "too-few-points"
    assert "2 curve point(s)" in advice["reading"] and "3 needed" in advice["reading"]
    assert advice["sources_for_mean"] == {"estimate": None, "low": None, "high": None}


def test_subsets_are_nested_per_draw_inside_the_fold_training_sources():
    data = synthetic_codec_data("libx264", 12, 4, 0.5, 0)
    task = plan_advice(data, DEFAULT_PROFILE, 0, draws=2)[0]
    masks = subset_masks(task)
    assert masks.shape == (len(task.sizes) * 2 + 1, data.n_rows)
    assert not (masks & task.held_out).any()
    for draw in range(2):
        rows = [masks[i * 2 + draw] for i in range(len(task.sizes))]
        counts = [len(set(data.sources[r])) for r in rows]
        assert counts == list(task.sizes)
        assert all((small <= big).all() for small, big in zip(rows, rows[1:], strict=False))  # nested
    assert (masks[-1] == ~task.held_out).all()
    again = subset_masks(plan_advice(data, DEFAULT_PROFILE, 0, draws=2)[0])
    assert (again == masks).all()


def test_one_fold_task_trains_and_is_reproducible_for_the_same_seed(one_torch_thread):
    from dataclasses import replace

    data = synthetic_codec_data("libx264", 9, 10, 0.7, 0)
    profile = replace(DEFAULT_PROFILE, epochs=3)
    task = plan_advice(data, profile, 0, draws=2)[0]
    first, second = run_advice_task(task), run_advice_task(task)
    assert first.plcc.shape == (len(task.sizes), 2)
    assert np.array_equal(first.plcc, second.plcc, equal_nan=True)
    assert {e.src for e in first.errors} == set(data.sources[task.held_out])


def _shifted(data, src: str, by: float):
    """The table with one source's measured targets moved by ``by`` VMAF (kept inside [0, 100])."""
    from dataclasses import replace

    target = data.target.copy()
    rows = data.sources == src
    target[rows] = np.clip(target[rows] + by, 0.0, 100.0)
    return replace(data, target=target)


def test_a_source_with_targets_shifted_by_15_is_the_only_outlier_with_its_bias(one_torch_thread):
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    from trainer.run.advise import advise

    data = synthetic_codec_data("libx264", 10, 30, 0.5, 0)
    # crf >= 36 rows only: their targets stay below 100 after the shift, so the shift is a full 15 VMAF
    keep = data.features[:, 0] >= 36
    data = replace(data, features=data.features[keep], target=data.target[keep], sources=data.sources[keep],
                   encode_kbps=None)
    shifted = _shifted(data, "libx264_src004", 15.0)
    assert float(shifted.target[shifted.sources == "libx264_src004"].max()) < 100.0
    profile = replace(DEFAULT_PROFILE, epochs=40)
    advice = advise({"libx264": shifted}, profile, 0, lambda: ThreadPoolExecutor(1))["libx264"]
    outliers = [s for s in advice["sources"] if s["outlier"]]
    assert [s["src"] for s in outliers] == ["libx264_src004"]
    assert outliers[0]["bias"] < -10  # predicted too low: the measured targets sit 15 above their kind
    assert "too low on average" in outliers[0]["reading"]
    assert advice["verdict"] in ("more-sources-likely-enough", "not-reachable-with-these-inputs", "too-few-points")
    assert len(advice["curve"]) >= 3


def test_corpus_sources_matches_the_smallest_fold_for_every_count_and_never_loops_on_huge_ones():
    for n in range(5, 200):
        smallest_fold = n - math.ceil(n / 5)
        assert corpus_sources_for(smallest_fold) <= n
        assert corpus_sources_for(smallest_fold + 1) > n
    assert math.isinf(corpus_sources_for(1e300))  # a nearly flat fitted curve crosses absurdly late


def _advised_report():
    from tests.test_advice_console import ADVICE
    from trainer.learning.results import CodecResult
    from trainer.outputs.report import build_report, corpus_section

    failing = CodecResult("libx264", "fail", 448, 16, ["mean PLCC 0.9390 < 0.9500 (ADR-0303 part 1)"], advice=ADVICE)
    passing = CodecResult("libx265", "pass", 448, 16)
    return build_report(results={"libx264": failing, "libx265": passing}, corpus=corpus_section(None, [], 0),
                        synthetic_smoke=False, provenance={}, profile={"name": "default"},
                        promotion={"skipped": "test"})


def test_the_report_carries_advice_and_the_summary_and_junit_say_it():
    import json

    from trainer.outputs.junit import junit_xml
    from trainer.outputs.report import dumps_report
    from trainer.outputs.summary_md import summary_markdown

    report = json.loads(dumps_report(_advised_report()))
    by_codec = {c["codec"]: c for c in report["codecs"]}
    advice = by_codec["libx264"]["advice"]
    assert by_codec["libx265"]["advice"] is None
    assert set(advice) >= {"sources_now", "curve", "mean_plcc_ceiling", "sources_for_mean", "sources_for_spread",
                           "verdict", "sources"}
    assert set(advice["curve"][0]) == {"n_sources", "mean_plcc", "spread", "draws"}
    assert set(advice["sources"][0]) >= {"src", "fold", "n_rows", "bias", "rmse", "outlier"}
    markdown = summary_markdown(report)
    assert "### Data advice (learning curve over sources)" in markdown
    assert "- **libx264** advice: more-sources-likely-enough" in markdown
    assert "shifted\\_clip" in markdown and "both: 23 (19 or more)" in markdown
    xml = junit_xml(report)
    assert "advice: more-sources-likely-enough" in xml and "outlier shifted_clip (fold 2" in xml


def test_advise_is_off_by_default_and_on_by_flag_or_env():
    from trainer.run.cli import build_parser
    from trainer.run.config import resolve_config

    parse = build_parser("t").parse_args
    assert resolve_config(parse([]), env={}).advise is False
    assert resolve_config(parse(["--advise"]), env={}).advise is True
    assert resolve_config(parse([]), env={"ADVISE": "1"}).advise is True
    assert resolve_config(parse([]), env={"ADVISE": "1"}).as_dict()["advise"] is True


def test_a_nearly_flat_curve_that_crosses_beyond_counting_reads_as_never():
    # 0.9501 - 0.02 n^-0.1 reaches 0.95 only at n = 200^10: "never" in any plan, not a 24-digit number
    points = [{"n_sources": n, "mean_plcc": known(n, 0.9501, 0.02, 0.1), "spread": 0.001,
               "draws": [{"mean_plcc": known(n, 0.9501, 0.02, 0.1), "spread": 0.001}] * 3} for n in SIZES]
    assert fit_curve(SIZES, [p["mean_plcc"] for p in points], 1.0).crossing(SHIP_GATE_MEAN_PLCC) > 1e20
    judged = _judged(points, sources_now=10, seed=0)
    assert judged["sources_for_mean"] == {"estimate": None, "low": None, "high": None}
    assert judged["sources_needed"]["estimate"] is None
    assert judged["verdict"] == "not-reachable-with-these-inputs" and "beyond 1,000,000 sources" in judged["reading"]


def test_an_estimate_far_beyond_the_sources_measured_is_not_a_plan():
    sizes = [3, 4, 5, 6, 8]
    slow = curve_points(sizes, _outcomes([known(n, 0.9502, 0.05, 0.5) for n in sizes], 0.001))
    judged = _judged(slow, sources_now=10, seed=0)
    assert judged["sources_needed"]["estimate"] > 100
    assert judged["verdict"] == "not-reachable-with-these-inputs" and "more than 10x" in judged["reading"]
