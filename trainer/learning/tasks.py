"""Picklable units of work: plain functions of plain data, runnable on any Executor.

A task trains one or more LOSO folds of one codec side by side; the final task trains the
full-corpus model a passing codec is promoted with.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from trainer.core.features import QUALITY_INPUT
from trainer.learning.profiles import TrainingProfile
from trainer.learning.results import FoldResult
from trainer.learning.selection import Candidate, FoldChoice

if TYPE_CHECKING:
    from trainer.learning.choice_rule import PickScoring
    from trainer.learning.crf_pick import PickSummary
    from trainer.learning.model import MLPWeights

# torch is imported inside the task functions: the processes that run tasks pay for it
# (the fork server preloads it once), the process that only plans and reports does not.


@dataclass(frozen=True)
class FoldTask:
    codec: str
    fold_indices: tuple[int, ...]
    features: np.ndarray  # float32 [n, 14]
    target: np.ndarray  # float32 [n]
    held_out: np.ndarray  # bool [len(fold_indices), n]
    held_out_sources: tuple[tuple[str, ...], ...]
    profile: TrainingProfile
    # One per fold (profiles with per-fold streams: learning.planning.fold_seeds), else one for the task
    seeds: tuple[int, ...]
    job_id: int = 0
    observed: np.ndarray | None = None  # [14] bool: inputs some row measured (the rest get zero weight)
    encode_kbps: np.ndarray | None = None  # [n] each row's own encode bitrate (NaN absent), for crf_pick
    # [n] each row's source: the inner folds of a nested model choice, the names of the ladders the console draws
    # and the per-source quality picks compared with the shipped model
    sources: np.ndarray | None = None
    ladders: np.ndarray | None = None  # [n] each row's corpus ladder (presets apart), for crf_pick
    # [n, 4] the probe inputs as the harness's own probe of the row's clip gives them (NaN: no probe)
    harness_probe: np.ndarray | None = None
    # [n] bool: the rows on a quality ladder, where the table also holds rows that are not: the only ones
    # trained on (learning.row_kinds); None in a table of one kind
    pick_rows: np.ndarray | None = None

    @property
    def fit_seed(self) -> int | tuple[int, ...]:
        """What ``learning.model.fit`` takes: a seed per fold model, or the task's one shared seed."""
        return self.seeds if self.profile.per_fold_streams else self.seeds[0]


def run_fold_task(task: FoldTask) -> list[FoldResult]:
    from trainer.learning.baseline import baseline_predictions
    from trainer.learning.crf_pick import crf_pick_by_group, crf_pick_metrics
    from trainer.learning.ladder_curves import held_out_ladders
    from trainer.learning.metrics import plcc, rmse, srocc
    from trainer.learning.model import predict, predictor
    from trainer.learning.pick_offsets import pick_ladders

    started = time.perf_counter()
    kbps = task.encode_kbps if task.encode_kbps is not None else np.full(task.target.shape[0], np.nan)
    weights, choices = _fit_fold_models(task, kbps)
    predictions = predict(weights, task.features)
    seconds = (time.perf_counter() - started) / len(task.fold_indices)
    baseline = baseline_predictions(task.features, task.target, task.held_out)
    results = []
    for k, fold_index in enumerate(task.fold_indices):
        val = task.held_out[k]
        pred, truth = predictions[k][val], task.target[val]
        features, fold_kbps = task.features[val], kbps[val]
        sources = None if task.sources is None else task.sources[val]
        ladder_ids = None if task.ladders is None else task.ladders[val]
        fold_model = predictor(weights, k)
        served = _served(task, val)
        as_probed, at_zero = _as_probed(task, val, kbps, fold_model)
        results.append(
            FoldResult(
                codec=task.codec,
                fold_index=fold_index,
                held_out_sources=task.held_out_sources[k],
                plcc=plcc(pred, truth),
                srocc=srocc(pred, truth),
                rmse=rmse(pred, truth),
                n_train=int((~val).sum()),
                n_val=int(val.sum()),
                seconds=seconds,
                baseline_plcc=plcc(baseline[k][val], truth),
                baseline_rmse=rmse(baseline[k][val], truth),
                crf_pick=crf_pick_metrics(features, truth, fold_kbps, task.codec, fold_model, ladder_ids),
                crf_pick_harness_probe=as_probed,
                crf_pick_harness_probe_0kbps=at_zero,
                ladders=held_out_ladders(features, truth, sources, task.codec, fold_model, ladder_ids=ladder_ids),
                model_choice=choices[k],
                held_out_rows=np.flatnonzero(val).astype(np.int32),
                predictions=np.asarray(pred, dtype=np.float32),
                crf_pick_by_source=None if sources is None else crf_pick_by_group(
                    features, truth, fold_kbps, task.codec, fold_model, sources, ladder_ids),
                served_predictions=None if served is None else np.asarray(fold_model(served), dtype=np.float32),
                pick_ladders=() if sources is None else pick_ladders(
                    features if served is None else served, truth, fold_kbps, task.codec, fold_model, sources,
                    ladder_ids),
            )
        )
    return results


def _fit_fold_models(task: FoldTask, kbps: np.ndarray) -> tuple[MLPWeights, list[FoldChoice | None]]:
    """The task's fold models: by nested model choice where the profile offers candidates, else plain training.

    A mixed table trains, and chooses, on its rows that state a quality (learning.row_kinds): the models are
    fitted on that part of the table, then judged on every held-out row like any other.
    """
    from trainer.learning.choice_rule import PickScoring
    from trainer.learning.model import fit
    from trainer.learning.selection import nested_applies

    if task.pick_rows is not None:
        return _fit_fold_models(_trained_part(task), kbps[task.pick_rows])
    picks = None if task.sources is None else PickScoring(task.codec, kbps, task.sources, task.ladders)
    may_choose = picks is not None and nested_applies(task.profile, task.target.shape[0], 2)
    offered = _offered(task, picks) if may_choose and picks is not None else []
    if picks is None or task.sources is None or len(offered) < 2:  # no sources: no picks either
        weights = fit(task.features, task.target, ~task.held_out, task.profile, task.fit_seed, task.observed)
        return weights, [None] * len(task.fold_indices)
    from trainer.learning.nested_fit import fit_with_choice

    # A corpus whose quality input never varies has no ladder to pick on: scoring picks would find none.
    quality_varies = bool(np.ptp(task.features[:, QUALITY_INPUT]) > 0)
    weights, chosen = fit_with_choice(task.features, task.target, task.held_out, task.fold_indices, task.sources,
                                      task.profile, task.fit_seed, task.observed, offered,
                                      picks if quality_varies else None)
    return weights, _beside_ridge(task, chosen)


def _beside_ridge(task: FoldTask, choices: list[FoldChoice]) -> list[FoldChoice | None]:
    """Each fold's choice with the report's ridge scored on the rows its candidates were (learning.choice_risk)."""
    from trainer.learning.baseline import baseline_predictions
    from trainer.learning.metrics import plcc, rmse

    ridge = baseline_predictions(task.features, task.target, task.held_out)
    scored: list[FoldChoice | None] = []
    for k, choice in enumerate(choices):
        rows = task.held_out[k]
        scored.append(replace(choice, ridge_plcc=_finite_or_none(plcc(ridge[k][rows], task.target[rows])),
                              ridge_rmse=_finite_or_none(rmse(ridge[k][rows], task.target[rows]))))
    return scored


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _trained_part(task: FoldTask) -> FoldTask:
    """The task cut to the rows its mixed table trains on (``pick_rows``): every per-row array alike."""
    rows = task.pick_rows
    assert rows is not None

    def cut(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else values[rows]

    return replace(task, features=task.features[rows], target=task.target[rows], held_out=task.held_out[:, rows],
                   encode_kbps=cut(task.encode_kbps), sources=cut(task.sources), ladders=cut(task.ladders),
                   harness_probe=cut(task.harness_probe), pick_rows=None)


def _offered(task: FoldTask, picks: PickScoring) -> list[Candidate]:
    """The candidates a nested choice on this task's corpus chooses among."""
    from trainer.learning.curve_candidate import curve_applies
    from trainer.learning.line_model import line_applies
    from trainer.learning.selection import candidates

    everything = np.ones(task.target.shape[0], dtype=bool)
    # The curve is chosen by the CRF it picks, so it is offered only where every source has a ladder to
    # pick on: a source without one (a bitrate ladder) would get one value for all of its rows.
    curve_allowed = (task.profile.curve_candidate
                     and curve_applies(task.features, everything, task.observed, task.profile.log_inputs)
                     and picks.all_laddered(task.features, everything))
    return candidates(task.profile, line_applies(task.features, everything, task.observed), curve_allowed)


def _served(task: FoldTask, val: np.ndarray) -> np.ndarray | None:
    """The held-out rows as the harness serves them (its own probe of each clip it probed); None without
    --harness-probes (the rows as they are)."""
    from trainer.ingest.harness_probes import served_features

    return None if task.harness_probe is None else served_features(task.features[val], task.harness_probe[val])


def _as_probed(task: FoldTask, val: np.ndarray, kbps: np.ndarray,
               fold_model: Callable[[np.ndarray], np.ndarray]) -> tuple[PickSummary | None, PickSummary | None]:
    """The fold's picks on its held-out clips that the harness probed, with the harness's probe as input:
    at its measured bitrate, and at the 0 kbps the published harness sends (recovered from the probe's frame
    sizes, as the fold model's exported graph would recover it)."""
    from trainer.core.probe_recovery import at_zero_kbps, recover_probe_bitrate
    from trainer.ingest.harness_probes import probed_rows, with_probe
    from trainer.learning.crf_pick import crf_pick_metrics

    if task.harness_probe is None:
        return None, None
    rows = val & probed_rows(task.harness_probe)
    if not rows.any():
        return None, None
    ladder_ids = None if task.ladders is None else task.ladders[rows]
    probed = with_probe(task.features[rows], task.harness_probe[rows])

    def picks(features: np.ndarray) -> PickSummary | None:
        return crf_pick_metrics(features, task.target[rows], kbps[rows], task.codec, fold_model, ladder_ids)

    return picks(probed), picks(recover_probe_bitrate(at_zero_kbps(probed)))


@dataclass(frozen=True)
class FinalTask:
    codec: str
    features: np.ndarray
    target: np.ndarray
    profile: TrainingProfile
    seed: int
    observed: np.ndarray | None = None


def run_final_task(task: FinalTask) -> MLPWeights:
    """Train on every row of the codec (no held-out fold): the model that would ship."""
    from trainer.learning.curve_candidate import curve_observed
    from trainer.learning.model import fit

    everything = np.ones((1, task.target.shape[0]), dtype=bool)
    if task.profile.train_curve:
        return fit(task.features, task.target, everything, task.profile, task.seed, curve_observed(task.observed),
                   convex=[True])
    if task.profile.train_line:
        from trainer.learning.line_model import fit_line

        return fit_line(task.features, task.target, everything, task.profile, task.observed, task.profile.line_inputs)
    return fit(task.features, task.target, everything, task.profile, task.seed, task.observed)
