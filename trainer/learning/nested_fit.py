"""The nested-LOSO fit of one fold task: every candidate on the outer and inner folds, in one batch.

Imported by worker processes only (it needs torch through learning.model).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainer.core.seeds import stable_seed
from trainer.learning.choice_rule import CRF_PICK, RMSE, PickScoring, choose, rmse_by_source, scorable
from trainer.learning.curve_candidate import curve_observed
from trainer.learning.line_model import fit_line
from trainer.learning.metrics import plcc
from trainer.learning.model import MLPWeights, fit, predict, predictor
from trainer.learning.profiles import TrainingProfile
from trainer.learning.selection import (
    Candidate,
    FoldChoice,
    best_candidate,
    inner_held_out,
    inner_seed,
    pooled_rmse,
)


def fit_with_choice(features: np.ndarray, target: np.ndarray, held_out: np.ndarray, fold_indices: Sequence[int],
                    sources: np.ndarray, profile: TrainingProfile, seed: int | Sequence[int],
                    observed: np.ndarray | None,
                    choices: Sequence[Candidate],
                    picks: PickScoring | None = None) -> tuple[MLPWeights, list[FoldChoice]]:
    """One model per outer fold (rows of ``held_out``), each the candidate its inner LOSO folds chose.

    Every network of every candidate and fold trains in one batched ``fit``; lines are closed form.
    With ``picks``, candidates are judged by the CRF they make the harness pick wherever the inner
    held-out sources have quality ladders (learning.choice_rule), else by each inner held-out source's
    RMSE; picks by the paired rule, simplest candidate first, RMSE by the lowest mean
    (learning.choice_rule.DEFAULT_RULES), recording what every other rule would have chosen from the same scores.
    ``seed``: one per outer fold (per-fold streams: every network of a fold, outer or inner, seeded from its
    fold's seed, so a fold chooses alike alone or beside others), or one int shared by the task.

    Parameters
    ----------
    features : ndarray of shape (n_rows, 14)
        Model inputs in contract order (float32).
    target : ndarray of shape (n_rows,)
        Measured VMAF (0-100, float32).
    held_out : ndarray of shape (n_folds, n_rows)
        Bool: the rows each outer fold holds out; the rest of the rows train that fold's models.
    fold_indices : sequence of int, of length n_folds
        Each outer fold's index in the full LOSO split; it seeds the fold's inner folds.
    sources : ndarray of shape (n_rows,)
        Each row's source name; the inner LOSO folds hold out one source each.
    profile : TrainingProfile
        The training settings (epochs, batch size, learning rate, shrink, ...) every candidate network trains with.
    seed : int or sequence of int
        One seed per outer fold (per-fold streams), or one int shared by every network of the task.
    observed : ndarray of shape (14,), optional
        Bool: the inputs some row measured (the rest get zero weight); None: every input measured.
    choices : sequence of Candidate
        The candidates the inner folds choose among (networks, quality-only curves and lines).
    picks : PickScoring, optional
        Scores candidates by the harness's CRF picks where the inner held-out sources have quality ladders;
        None: by each inner held-out source's RMSE.
    """
    names = [c.name for c in choices]
    simplest_first = tuple(c.name for c in sorted(choices, key=lambda c: c.simplicity))
    networks = [c for c in choices if not c.is_line and not c.quality_only]
    fallback = min(networks, key=lambda c: abs(float(c.shrink or 0.0) - profile.shrink)).name if networks else names[0]
    outer_train = ~held_out
    fold_seeds = [seed] * len(fold_indices) if isinstance(seed, int) else list(seed)
    jobs: list[tuple[Candidate, np.ndarray]] = []  # (candidate, training mask), in model-index order below
    job_seeds: list[int] = []  # per-fold streams: each network's own seed
    outer_model: dict[tuple[int, int], int] = {}  # (fold k, candidate c) -> job index
    inner_models: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}  # -> [(job, its held-out rows)]
    for k, fold_index in enumerate(fold_indices):
        # Dealt from the fold's own seed: a fold's inner folds never depend on how the folds are split into tasks.
        inner = inner_held_out(sources, outer_train[k], inner_seed(fold_seeds[k], fold_index))
        for c, candidate in enumerate(choices):
            outer_model[k, c] = len(jobs)
            jobs.append((candidate, outer_train[k]))
            job_seeds.append(stable_seed(fold_seeds[k], candidate.name, "outer"))
            for j, held in enumerate(inner):
                inner_models.setdefault((k, c), []).append((len(jobs), held))
                jobs.append((candidate, outer_train[k] & ~held))
                job_seeds.append(stable_seed(fold_seeds[k], candidate.name, "inner", j))
    weights = _fit_jobs(features, target, jobs, profile, seed if isinstance(seed, int) else job_seeds, observed)
    predictions = predict(weights, features).astype(np.float64)
    truth = target.astype(np.float64)
    chosen: list[int] = []
    fold_choices: list[FoldChoice] = []
    for k in range(len(fold_indices)):
        inner_rmse: dict[str, float | None] = {}
        outer_rmse: dict[str, float | None] = {}
        outer_plcc: dict[str, float | None] = {}
        inner_pick: dict[str, dict[str, float]] = {}
        outer_pick: dict[str, dict[str, float]] = {}
        inner_by_source: dict[str, dict[str, float]] = {}
        outer_by_source: dict[str, dict[str, float]] = {}
        for c, name in enumerate(names):
            out_of_fold = np.full(truth.shape, np.nan)
            covered = np.zeros(truth.shape, dtype=bool)
            for job, held in inner_models.get((k, c), []):
                out_of_fold[held] = predictions[job][held]
                covered |= held
                if picks is not None:
                    scores = picks.by_source(features, target, held, predictor(weights, job))
                    inner_pick.setdefault(name, {}).update(scores)
            inner_rmse[name] = _finite(pooled_rmse(out_of_fold, truth, covered))
            outer_rmse[name] = _finite(pooled_rmse(predictions[outer_model[k, c]], truth, held_out[k]))
            outer_plcc[name] = _finite(plcc(predictions[outer_model[k, c]][held_out[k]], truth[held_out[k]]))
            inner_by_source[name] = rmse_by_source(out_of_fold, truth, covered, sources)
            outer_by_source[name] = rmse_by_source(predictions[outer_model[k, c]], truth, held_out[k], sources)
            if picks is not None:
                outer_pick[name] = picks.by_source(features, target, held_out[k], predictor(weights, outer_model[k, c]))
        # ``covered``: every inner held-out row (the same for each candidate)
        laddered = picks is not None and picks.all_laddered(features, covered)
        if picks is not None and laddered and len(inner_pick) == len(names) and scorable(inner_pick):
            verdict, by_rule = choose(inner_pick, simplest_first, CRF_PICK)
            choice = FoldChoice(verdict.chosen, inner_rmse, outer_rmse, CRF_PICK, verdict.means,
                                verdict.standard_error, outer_pick, simplest_first,
                                picks.all_laddered(features, held_out[k]), rule_choices=by_rule,
                                outer_plcc=outer_plcc)
        elif scorable(inner_by_source):
            verdict, by_rule = choose(inner_by_source, simplest_first, RMSE)
            choice = FoldChoice(verdict.chosen, inner_rmse, outer_rmse, simplest_first=simplest_first,
                                inner_source_rmse=verdict.means, inner_rmse_se=verdict.standard_error,
                                outer_rmse_by_source=outer_by_source, rule_choices=by_rule, outer_plcc=outer_plcc)
        else:
            choice = FoldChoice(best_candidate(inner_rmse) or fallback, inner_rmse, outer_rmse, outer_plcc=outer_plcc)
        chosen.append(outer_model[k, names.index(choice.chosen)])
        fold_choices.append(choice)
    return weights.take(chosen), fold_choices


def _fit_jobs(features: np.ndarray, target: np.ndarray, jobs: list[tuple[Candidate, np.ndarray]],
              profile: TrainingProfile, seed: int | list[int], observed: np.ndarray | None) -> MLPWeights:
    """Weights of every job, in job order: networks batched into one ``fit``, lines fitted directly.
    ``seed``: one per job (per-fold streams), or one shared by the batch."""
    network_jobs = [i for i, (c, _mask) in enumerate(jobs) if not c.is_line]
    line_names = list(dict.fromkeys(c.name for c, _mask in jobs if c.is_line))
    line_jobs = [[i for i, (c, _mask) in enumerate(jobs) if c.name == name] for name in line_names]
    parts: list[MLPWeights] = []
    if network_jobs:
        everything = np.ones(features.shape[1], dtype=bool) if observed is None else np.asarray(observed, dtype=bool)
        job_observed = np.array([curve_observed(observed) if jobs[i][0].quality_only else everything
                                 for i in network_jobs])
        network_seed = seed if isinstance(seed, int) else [seed[i] for i in network_jobs]
        parts.append(fit(features, target, np.array([jobs[i][1] for i in network_jobs]), profile, network_seed,
                         job_observed,
                         [float(jobs[i][0].shrink or 0.0) for i in network_jobs],
                         convex=[jobs[i][0].quality_only for i in network_jobs]))
    for name, indices in zip(line_names, line_jobs, strict=True):
        parts.append(fit_line(features, target, np.array([jobs[i][1] for i in indices]), profile, observed, name))
    merged = MLPWeights(*(np.concatenate([getattr(p, f) for p in parts]) for f in MLPWeights.__dataclass_fields__))
    order = np.argsort(np.array(network_jobs + [i for indices in line_jobs for i in indices]), kind="stable")
    return merged.take(order.tolist())


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
