"""How a nested choice ranks candidates: by the CRF they make the harness pick, where that can be scored.

Where the held-out rows hold quality ladders, a model is judged by what the harness does with it
(learning.crf_pick): each held-out source scores the mean CRF-pick error over its ladders and
targets, and a candidate's score is the mean over sources. The choice then follows the
one-standard-error rule (Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning*,
7.10): take the best score, and choose the *simplest* candidate whose score is within one standard
error (over sources) of it. With 9-20 sources, and fewer in an inner fold, scores of candidates
differ by less than their noise more often than not, and a richer model that merely ties a simpler
one on a dozen sources is the one that does worse on the next. Elsewhere (bitrate ladders: no
pick to score) each held-out source scores its RMSE, and the same rule chooses: on a real UHD
bitrate-ladder corpus the lowest pooled inner RMSE preferred the network, which then lost to a
four-input ridge line on the outer folds (issue #29).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from trainer.learning.crf_pick import crf_pick_by_group, every_group_has_pick_ladders

RMSE = "rmse"
CRF_PICK = "crf_pick"
# A pick score from fewer held-out sources than this has no standard error worth the name.
MIN_SCORED_SOURCES = 3


@dataclass(frozen=True)
class PickScoring:
    """What scoring picks needs beyond features and targets: the codec (its quality range), each
    row's encode bitrate, source and corpus ladder."""

    codec: str
    kbps: np.ndarray
    sources: np.ndarray
    ladders: np.ndarray | None

    def by_source(self, features: np.ndarray, target: np.ndarray, rows: np.ndarray,
                  predict: Callable[[np.ndarray], np.ndarray]) -> dict[str, float]:
        """Mean CRF-pick error (quality steps) of each source among ``rows`` that has a ladder to pick on."""
        ladders = None if self.ladders is None else self.ladders[rows]
        summaries = crf_pick_by_group(features[rows], target[rows], self.kbps[rows], self.codec, predict,
                                      self.sources[rows], ladders)
        return {name: float(s["mean_abs_quality_error"]) for name, s in summaries.items()}

    def all_laddered(self, features: np.ndarray, rows: np.ndarray) -> bool:
        """Whether every source among ``rows`` has a ladder to pick on (inputs only, not targets).

        A source without one (a bitrate ladder beside CRF sweeps in one codec's corpus) is invisible
        to pick scores, so picks alone must not choose a model that will also predict it.
        """
        return every_group_has_pick_ladders(features[rows], self.sources[rows],
                                            None if self.ladders is None else self.ladders[rows])


@dataclass(frozen=True)
class PickVerdict:
    chosen: str
    means: dict[str, float]
    standard_error: float


def rmse_by_source(predictions: np.ndarray, truth: np.ndarray, rows: np.ndarray,
                   sources: np.ndarray) -> dict[str, float]:
    """RMSE of each source among ``rows`` (a bool mask); only finite ones (a diverged model scores none)."""
    scores: dict[str, float] = {}
    names = np.asarray(sources)[rows]
    errors = (np.asarray(predictions, dtype=np.float64)[rows] - np.asarray(truth, dtype=np.float64)[rows]) ** 2
    for name in np.unique(names):
        value = float(np.sqrt(errors[names == name].mean()))
        if np.isfinite(value):
            scores[str(name)] = value
    return scores


def scorable(per_source: dict[str, dict[str, float]]) -> bool:
    """Whether every candidate was scored on the same sources, enough of them for a standard error."""
    sets = [frozenset(scores) for scores in per_source.values()]
    return bool(sets) and all(s == sets[0] for s in sets) and len(sets[0]) >= MIN_SCORED_SOURCES


def one_standard_error_choice(per_source: dict[str, dict[str, float]], simplest_first: Sequence[str]) -> PickVerdict:
    """The simplest candidate (order of ``simplest_first``) within one standard error of the best mean."""
    means = {name: float(np.mean(list(scores.values()))) for name, scores in per_source.items()}
    best = min(means, key=lambda name: (means[name], simplest_first.index(name)))
    errors = np.array(list(per_source[best].values()))
    standard_error = float(errors.std(ddof=1) / np.sqrt(errors.size))
    chosen = next(name for name in simplest_first if name in means and means[name] <= means[best] + standard_error)
    return PickVerdict(chosen, means, standard_error)
