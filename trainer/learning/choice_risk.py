"""How often each choice rule would have been beaten by the ridge on this corpus's own folds.

A nested choice is made without looking at the outer held-out sources; afterwards those folds can say
what it cost. Every rule of learning.choice_rule chose from the same inner scores (``rule_choices``), and
every candidate was scored on the outer rows (``outer_plcc``, ``outer_rmse``), beside the report's ridge
fitted on the same training rows. A reviewer reading a small corpus's report then sees the risk the rule
took there: on the held-back UHD ladders the one-standard-error rule lost to the ridge in 2-3 of 5 folds.
"""

from __future__ import annotations

from collections.abc import Sequence

from trainer.learning.selection import FoldChoice

# Beaten means by more than these (the margins issue #37 judges by).
PLCC_MARGIN = 0.005
RMSE_MARGIN = 0.5


def ridge_beats(choices: Sequence[FoldChoice]) -> dict[str, dict[str, int]] | None:
    """Per rule: the folds where the ridge's PLCC beat the rule's choice by > PLCC_MARGIN (``plcc``), where its
    RMSE did by > RMSE_MARGIN (``rmse``), and the folds counted (``of``); None where no fold can say."""
    scored = [c for c in choices if c.rule_choices and c.ridge_plcc is not None and c.ridge_rmse is not None]
    if not scored:
        return None
    rules = list(scored[0].rule_choices)
    beats: dict[str, dict[str, int]] = {}
    for rule in rules:
        plcc_losses = rmse_losses = 0
        for choice in scored:
            chosen = choice.rule_choices.get(rule, choice.chosen)
            plcc, rmse = choice.outer_plcc.get(chosen), choice.outer_rmse.get(chosen)
            plcc_losses += plcc is None or plcc < float(choice.ridge_plcc or 0.0) - PLCC_MARGIN
            rmse_losses += rmse is None or rmse > float(choice.ridge_rmse or 0.0) + RMSE_MARGIN
        beats[rule] = {"plcc": plcc_losses, "rmse": rmse_losses, "of": len(scored)}
    return beats
