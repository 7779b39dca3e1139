"""Model choice by nested LOSO: let a small corpus choose its own regularisation, honestly.

One fixed decay strength cannot suit every corpus: a few hundred rows from 9-20 sources want a
stronger pull towards simple models than thousands of rows do. On corpora small enough that it
costs little, every outer LOSO fold therefore trains each candidate on inner LOSO folds of its
own training sources, and keeps the candidate with the lowest pooled inner RMSE; the outer
held-out sources are never looked at. All models of a fold train side by side in one batched
``fit``. The full-corpus model takes the candidate with the lowest RMSE over the outer folds,
which is LOSO on the whole corpus.

Candidates are networks at several decay strengths (the ``nested`` profile; the default offers
only its own), where the quality input is dead the ridge line embedded in the same graph
(learning.line_model), and where it is live the content-blind curve (learning.curve_candidate): a
corpus on which a simpler model predicts unseen sources better than the network then ships it,
chosen without looking at the sources it is judged on.

Where the held-out rows hold quality ladders, the CRF each candidate makes the harness pick
chooses, by the paired rule; elsewhere RMSE, not PLCC, by the lowest mean (learning.choice_rule): the
harness reads the predicted *level*, so being off by a constant costs picks even when the ranking
is right.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, SupportsFloat

import numpy as np

from trainer.core.sections import section
from trainer.core.seeds import stable_seed
from trainer.learning.choice_rule import CRF_PICK, LOWEST, PAIRED, RMSE, choose, default_rule, scorable
from trainer.learning.folds import fold_masks
from trainer.learning.line_family import LINE_CANDIDATE, LINE_FAMILY, LINES
from trainer.learning.profiles import TrainingProfile

LINE = LINE_CANDIDATE
CURVE = "curve"
# Candidate total shrinks of the weight matrices (see profiles.TrainingProfile.shrink), a decade
# and a half either side of the default 6; 200 already collapses a network to a constant.
CANDIDATE_SHRINKS: tuple[float, ...] = (2.0, 6.0, 20.0, 60.0)
# Nested choice trains (inner folds + 1) x candidates models per outer fold. Up to this many rows
# that costs a few seconds per codec (docs/models.md "Model choice by nested LOSO"); every real corpus we know is under
# it (NFLX 70 rows, the real CRF sweep 448). Bigger corpora keep the profile's shrink: they pin
# the fit down by themselves, and the generated M corpus (4000 rows) keeps its benchmark cost.
NESTED_MAX_ROWS = 2000
INNER_FOLDS = 5
MIN_INNER_FOLDS = 3


@dataclass(frozen=True)
class Candidate:
    """A model a nested choice may ship: a network at one decay strength, or the embedded line."""

    name: str
    shrink: float | None = None  # None: the line
    quality_only: bool = False  # the content-blind curve: a network on the quality input alone

    @property
    def is_line(self) -> bool:
        return self.shrink is None

    @property
    def simplicity(self) -> tuple[int, float]:
        """Sort key, simplest first: the curve and the lines (fewest inputs first), then networks by
        decreasing decay."""
        if self.quality_only:
            return (0, 0.0)
        if self.is_line:
            return (0, float([m.name for m in LINE_FAMILY].index(self.name)))
        return (1, -float(self.shrink or 0.0))


def candidate_name(shrink: float) -> str:
    return f"shrink={shrink:g}"


def candidate_label(name: str) -> str:
    """What a candidate is, for operators (log, card)."""
    if name in LINES:
        return f"the ridge line on {LINES[name].description}, embedded in the MLP graph"
    return {CURVE: "the content-blind curve: the network on the quality input alone"}.get(name, "the network")


def describe_choice(choice: Mapping[str, object]) -> str:
    """One line: what was chosen, by what, and every candidate's score (a fold's or the final choice's)."""
    if choice.get("criterion") == CRF_PICK:
        scores = section(choice, "mean_outer_crf_pick") or section(choice, "inner_crf_pick")
        error = choice.get("outer_crf_pick_se", choice.get("inner_crf_pick_se"))
        rule = f"CRF-pick error (steps, per source; {_noise(choice.get('rule'), error)})"
    elif choice.get("mean_outer_source_rmse") or choice.get("inner_source_rmse"):
        scores = section(choice, "mean_outer_source_rmse") or section(choice, "inner_source_rmse")
        error = choice.get("outer_rmse_se", choice.get("inner_rmse_se"))
        rule = f"RMSE (per source; {_noise(choice.get('rule'), error)})"
    else:
        scores = section(choice, "mean_outer_rmse") or section(choice, "inner_rmse")
        rule = "RMSE"
    scored = ", ".join(f"{name} {value:.2f}" if isinstance(value, float) else f"{name} n/a"
                       for name, value in scores.items())
    line = f"`{choice['chosen']}` ({candidate_label(str(choice['chosen']))}), chosen by nested LOSO on {rule}: {scored}"
    return line + _risk(choice.get("ridge_beats"))


def _noise(rule: object, error: object) -> str:
    """How the rule weighed the scores' noise, in words: the lowest mean weighs none."""
    if rule == LOWEST:
        return "lowest mean"
    label = "paired standard error" if rule == PAIRED else "one standard error"
    return f"{label} {float(error) if isinstance(error, SupportsFloat) else 0.0:.2f}"


def _risk(beats: object) -> str:
    """The choice's risk on this corpus's folds (learning.choice_risk), every rule's, the one in use first."""
    if not isinstance(beats, dict) or not beats:
        return ""
    counts = [f"{rule} {int(b['plcc'])}/{int(b['of'])} by PLCC, {int(b['rmse'])}/{int(b['of'])} by RMSE"
              for rule, b in beats.items() if isinstance(b, dict)]
    return "; the ridge on the same folds beat " + "; ".join(counts)


def candidates(profile: TrainingProfile, line_allowed: bool, curve_allowed: bool = False) -> list[Candidate]:
    """What a nested choice under ``profile`` chooses among; the line and the curve only where they may be offered."""
    shrinks = CANDIDATE_SHRINKS if profile.shrink_grid else (profile.shrink,)
    found = [Candidate(candidate_name(s), s) for s in shrinks]
    if profile.line_candidate and line_allowed:
        found.extend(Candidate(member.name) for member in LINE_FAMILY)
    if profile.curve_candidate and curve_allowed:
        found.append(Candidate(CURVE, profile.shrink, quality_only=True))
    return found


def nested_applies(profile: TrainingProfile, n_rows: int, n_candidates: int) -> bool:
    """Nested choice runs on small corpora, and only where there is something to choose between."""
    return profile.nested_selection and n_rows <= NESTED_MAX_ROWS and n_candidates >= 2


def inner_held_out(sources: np.ndarray, train: np.ndarray, seed: int) -> np.ndarray:
    """Inner LOSO folds over one outer fold's training rows: ``[J, n]`` bool, False outside ``train``.

    Empty (J = 0) when the training rows hold too few sources for an honest inner estimate.
    """
    train_sources = np.asarray(sources)[train]
    n_inner = min(INNER_FOLDS, np.unique(train_sources).size)
    if n_inner < MIN_INNER_FOLDS:
        return np.zeros((0, train.size), dtype=bool)
    inner = np.zeros((n_inner, train.size), dtype=bool)
    inner[:, train] = fold_masks(train_sources, seed, n_inner)
    return inner


def inner_seed(seed: int, fold_index: int) -> int:
    return stable_seed(seed, "inner-folds", fold_index)


@dataclass(frozen=True)
class FoldChoice:
    """One outer fold's model choice: what the inner folds said, and how each candidate did outside."""

    chosen: str
    inner_rmse: dict[str, float | None]  # pooled over the inner held-out rows: what chose (criterion rmse)
    outer_rmse: dict[str, float | None]  # on the outer held-out rows: used only for the final model
    criterion: str = RMSE
    # criterion crf_pick: mean CRF-pick error over the inner held-out sources (what chose), its standard
    # error, and each candidate's error per outer held-out source (only for the final model)
    inner_pick: dict[str, float] = field(default_factory=dict)
    inner_pick_se: float | None = None
    outer_pick_by_source: dict[str, dict[str, float]] = field(default_factory=dict)
    simplest_first: tuple[str, ...] = ()
    # whether every outer held-out source had a ladder to pick on (only for the final model)
    outer_laddered: bool = True
    # criterion rmse by the per-source rule: each candidate's mean over the inner held-out sources
    # of their RMSE (what chose), its standard error, and the RMSE of each outer held-out source (final model)
    inner_source_rmse: dict[str, float] = field(default_factory=dict)
    inner_rmse_se: float | None = None
    outer_rmse_by_source: dict[str, dict[str, float]] = field(default_factory=dict)
    # what each rule of learning.choice_rule would have chosen from the same inner scores (the chosen one is
    # that of the criterion's rule, DEFAULT_RULES), and every candidate's PLCC on the outer held-out rows:
    # what a rule's choice would have scored, for the report's risk line and the bench's comparison of rules
    rule_choices: dict[str, str] = field(default_factory=dict)
    outer_plcc: dict[str, float | None] = field(default_factory=dict)
    # the report's ridge, fitted on the same training rows, on the same outer held-out rows (learning.choice_risk)
    ridge_plcc: float | None = None
    ridge_rmse: float | None = None

    def as_report(self) -> dict[str, object]:
        report: dict[str, object] = {"chosen": self.chosen, "criterion": self.criterion,
                                     "inner_rmse": dict(self.inner_rmse), "outer_rmse": dict(self.outer_rmse),
                                     "outer_plcc": dict(self.outer_plcc),
                                     "ridge_plcc": self.ridge_plcc, "ridge_rmse": self.ridge_rmse}
        if self.rule_choices:
            report["rule"] = default_rule(self.criterion)
            report["rule_choices"] = dict(self.rule_choices)
        if self.criterion == CRF_PICK:
            report["inner_crf_pick"] = dict(self.inner_pick)
            report["inner_crf_pick_se"] = self.inner_pick_se
            report["outer_crf_pick"] = {name: float(np.mean(list(errors.values()))) if errors else None
                                        for name, errors in self.outer_pick_by_source.items()}
            # what the final choice is computed from, so a report read back (review mode) gives the same one
            report["outer_crf_pick_by_source"] = {name: dict(e) for name, e in self.outer_pick_by_source.items()}
            report["simplest_first"] = list(self.simplest_first)
            report["outer_laddered"] = self.outer_laddered
        elif self.inner_source_rmse:
            report["inner_source_rmse"] = dict(self.inner_source_rmse)
            report["inner_rmse_se"] = self.inner_rmse_se
            report["outer_rmse_by_source"] = {name: dict(e) for name, e in self.outer_rmse_by_source.items()}
            report["simplest_first"] = list(self.simplest_first)
        return report

    @classmethod
    def from_report(cls, entry: Mapping[str, Any]) -> FoldChoice:
        """The choice as ``as_report`` wrote it (review mode reads reports back); TypeError when malformed."""
        if not isinstance(entry, Mapping):
            raise TypeError(f"model_choice is not an object: {entry!r:.80}")
        by_source = entry.get("outer_crf_pick_by_source") or {}
        rmse_by_source = entry.get("outer_rmse_by_source") or {}
        for key, value in (("outer_crf_pick_by_source", by_source), ("outer_rmse_by_source", rmse_by_source)):
            if not isinstance(value, Mapping):
                raise TypeError(f"model_choice.{key} is not an object: {value!r:.80}")
        return cls(chosen=str(entry["chosen"]), inner_rmse=dict(entry["inner_rmse"]),
                   outer_rmse=dict(entry["outer_rmse"]), criterion=str(entry.get("criterion", RMSE)),
                   inner_pick=dict(entry.get("inner_crf_pick") or {}), inner_pick_se=entry.get("inner_crf_pick_se"),
                   outer_pick_by_source={name: dict(errors) for name, errors in by_source.items()},
                   simplest_first=tuple(entry.get("simplest_first") or ()),
                   outer_laddered=bool(entry.get("outer_laddered", True)),
                   inner_source_rmse=dict(entry.get("inner_source_rmse") or {}),
                   inner_rmse_se=entry.get("inner_rmse_se"),
                   outer_rmse_by_source={name: dict(errors) for name, errors in rmse_by_source.items()},
                   rule_choices=dict(entry.get("rule_choices") or {}),
                   outer_plcc=dict(entry.get("outer_plcc") or {}),
                   ridge_plcc=entry.get("ridge_plcc"), ridge_rmse=entry.get("ridge_rmse"))


def pooled_rmse(predictions: np.ndarray, target: np.ndarray, rows: np.ndarray) -> float:
    """RMSE over every row in ``rows`` (a bool mask); NaN when there is none."""
    if not rows.any():
        return float("nan")
    return float(np.sqrt(np.mean((predictions[rows] - target[rows]) ** 2)))


def best_candidate(scores: dict[str, float | None]) -> str | None:
    """The candidate with the lowest score (ties: the earlier, i.e. weaker decay); None when none scored."""
    finite = [(value, i, name) for i, (name, value) in enumerate(scores.items())
              if value is not None and np.isfinite(value)]
    return min(finite)[2] if finite else None


def final_choice(choices: list[FoldChoice]) -> dict[str, object] | None:
    """The full-corpus model's candidate, from the outer folds (LOSO on all sources), by the rule the
    folds chose with: on every held-out source's CRF-pick error where every fold chose by picks and
    every outer held-out source had a ladder to pick on, else on every held-out source's RMSE (each by
    its criterion's rule, learning.choice_rule.DEFAULT_RULES); the lowest mean outer RMSE where neither
    can be scored."""
    if not choices:
        return None
    by_picks = all(c.criterion == CRF_PICK and c.outer_laddered for c in choices)
    by_rmse = all(c.criterion == RMSE and c.outer_rmse_by_source for c in choices)
    for applies, criterion, per_fold, mean_key, se_key in (
        (by_picks, CRF_PICK, [c.outer_pick_by_source for c in choices], "mean_outer_crf_pick", "outer_crf_pick_se"),
        (by_rmse, RMSE, [c.outer_rmse_by_source for c in choices], "mean_outer_source_rmse", "outer_rmse_se"),
    ):
        by_source = _merged(per_fold)
        if applies and scorable(by_source):
            verdict, by_rule = choose(by_source, list(choices[0].simplest_first), criterion)
            return {"chosen": verdict.chosen, "criterion": criterion, "rule": default_rule(criterion),
                    mean_key: verdict.means,
                    se_key: verdict.standard_error, "rule_choices": by_rule}
    names = list(choices[0].outer_rmse)
    means: dict[str, float | None] = {}
    for name in names:
        values = [c.outer_rmse.get(name) for c in choices]
        scored = [v for v in values if v is not None]
        means[name] = float(np.mean(scored)) if len(scored) == len(values) else None
    chosen = best_candidate(means)
    return None if chosen is None else {"chosen": chosen, "criterion": RMSE, "mean_outer_rmse": means}


def _merged(per_fold: Iterable[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Candidate -> source -> score over all outer folds (each source is held out by one fold)."""
    merged: dict[str, dict[str, float]] = {}
    for scores in per_fold:
        for name, errors in scores.items():
            merged.setdefault(name, {}).update(errors)
    return merged


def profile_for(profile: TrainingProfile, choice: dict[str, object] | None) -> TrainingProfile:
    """The profile the full-corpus model trains with: the chosen candidate's, else the profile's own."""
    if not choice:
        return profile
    chosen = str(choice["chosen"])
    if chosen in LINES:
        return replace(profile, train_line=True, line_inputs=chosen)
    if chosen == CURVE:
        return replace(profile, train_curve=True)
    shrinks = {candidate_name(s): s for s in (*CANDIDATE_SHRINKS, profile.shrink)}
    return replace(profile, shrink=shrinks[chosen])
