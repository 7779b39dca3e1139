"""ADR-0303 ship gate: the constants and the pure verdict function.

These constants are load-bearing. Never lower them to make a codec pass; ship more
training data or supersede ADR-0303 instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SHIP_GATE_MEAN_PLCC = 0.95
SHIP_GATE_PLCC_SPREAD_MAX = 0.005
SHIP_GATE_PER_FOLD_MIN = 0.95
LOSO_FOLD_COUNT = 5
GATE_ADR = "ADR-0303"


def _beside(value: float, threshold: float) -> str:
    """Format ``value`` with enough digits that it never prints equal to ``threshold``."""
    for digits in (4, 6, 8):
        if f"{value:.{digits}f}" != f"{threshold:.{digits}f}":
            return f"{value:.{digits}f}"
    return repr(value)


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    mean_plcc: float | None
    plcc_spread: float | None
    reasons: tuple[str, ...]


def evaluate_gate(fold_plccs: Sequence[float | None]) -> GateVerdict:
    """Judge LOSO fold PLCCs; any missing or non-finite value is a failure with a reason."""
    if len(fold_plccs) == 0:
        return GateVerdict(False, None, None, ("no LOSO folds were evaluated",))
    undefined = [i for i, v in enumerate(fold_plccs) if v is None or not math.isfinite(v)]
    if undefined:
        names = ", ".join(f"fold{i}" for i in undefined)
        return GateVerdict(
            False,
            None,
            None,
            (f"PLCC undefined for {names} (constant predictions or targets, or < 2 held-out rows)",),
        )
    values = [float(v) for v in fold_plccs if v is not None]  # none is None here: the undefined ones returned
    mean = sum(values) / len(values)
    spread = max(values) - min(values)
    reasons: list[str] = []
    if len(values) != LOSO_FOLD_COUNT:
        reasons.append(f"{len(values)} folds evaluated, {LOSO_FOLD_COUNT} required")
    if mean < SHIP_GATE_MEAN_PLCC:
        shown = _beside(mean, SHIP_GATE_MEAN_PLCC)
        reasons.append(f"mean PLCC {shown} < {SHIP_GATE_MEAN_PLCC:.4f} ({GATE_ADR} part 1)")
    if spread > SHIP_GATE_PLCC_SPREAD_MAX:
        shown = _beside(spread, SHIP_GATE_PLCC_SPREAD_MAX)
        reasons.append(f"PLCC spread {shown} > {SHIP_GATE_PLCC_SPREAD_MAX:.4f} ({GATE_ADR} part 2)")
    low = [f"fold{i}={_beside(v, SHIP_GATE_PER_FOLD_MIN)}" for i, v in enumerate(values) if v < SHIP_GATE_PER_FOLD_MIN]
    if low:
        reasons.append(f"per-fold PLCC < {SHIP_GATE_PER_FOLD_MIN:.4f}: {', '.join(low)}")
    return GateVerdict(not reasons, mean, spread, tuple(reasons))


def gate_constants() -> dict[str, object]:
    """The gate as recorded in every report."""
    return {
        "mean_plcc_threshold": SHIP_GATE_MEAN_PLCC,
        "plcc_spread_max": SHIP_GATE_PLCC_SPREAD_MAX,
        "per_fold_min": SHIP_GATE_PER_FOLD_MIN,
        "loso_fold_count": LOSO_FOLD_COUNT,
        "adr": GATE_ADR,
    }
