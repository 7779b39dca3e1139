"""The data advisor's findings in words: the batch log, the Markdown summary and the JUnit failure text.

Built from a report's ``codecs[].advice`` alone, so every face says the same thing, and a summary
rebuilt from a downloaded report says it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainer.core.display import clip
from trainer.core.gate import SHIP_GATE_MEAN_PLCC, SHIP_GATE_PLCC_SPREAD_MAX
from trainer.core.sections import entries

MAX_OUTLIERS_SHOWN = 5


def estimate_text(estimate: object) -> str:
    """``17 (13-25)``, ``17 (13 or more)``, or ``never`` from an ``{estimate, low, high}`` object."""
    if not isinstance(estimate, Mapping) or estimate.get("estimate") is None:
        return "never"
    low, high = estimate.get("low"), estimate.get("high")
    if low is None:
        return f"{estimate['estimate']} (most draws: never)"
    return f"{estimate['estimate']} ({low}-{high})" if high is not None else f"{estimate['estimate']} ({low} or more)"


def curve_line(advice: Mapping[str, object]) -> str:
    """The learning curve as ``n: mean/spread`` pairs, smallest training set first."""
    points = entries(advice, "curve")
    return ", ".join(f"{p['n_sources']}: {p['mean_plcc']:.3f}/{p['spread']:.3f}" for p in points)


def outlier_lines(advice: Mapping[str, object]) -> list[str]:
    outliers = [s for s in entries(advice, "sources") if s.get("outlier")]
    lines = [f"outlier {clip(str(s['src']))} (fold {s['fold']}, {s['n_rows']} rows, bias {s['bias']:+.1f}, "
             f"RMSE {s['rmse']:.1f}): {s['reading']}" for s in outliers[:MAX_OUTLIERS_SHOWN]]
    if len(outliers) > MAX_OUTLIERS_SHOWN:
        lines.append(f"... and {len(outliers) - MAX_OUTLIERS_SHOWN} more outlier sources in report.json")
    return lines


def advice_lines(advice: object) -> list[str]:
    """A failing codec's advice in a few lines; empty when none was computed (the report's ``codecs[].advice``)."""
    if not advice or not isinstance(advice, Mapping):
        return []
    if advice.get("error"):
        return [f"advice: could not be computed: {advice['error']}"]
    lines = [f"advice: {advice['verdict']}: {advice.get('reading', '')}"]
    if advice.get("curve"):
        needed = [estimate_text(advice.get(k)) for k in ("sources_for_mean", "sources_for_spread", "sources_needed")]
        lines.append(f"  sources now {advice['sources_now']}; for mean PLCC >= {SHIP_GATE_MEAN_PLCC}: {needed[0]}; "
                     f"for spread <= {SHIP_GATE_PLCC_SPREAD_MAX}: {needed[1]}; both: {needed[2]}")
        lines.append(f"  curve (training sources per fold: mean PLCC/spread): {curve_line(advice)}")
    lines += [f"  {line}" for line in outlier_lines(advice)]
    return lines


def advice_markdown(codecs: list[Mapping[str, Any]]) -> list[str]:
    """A 'Data advice' section for the codecs that carry advice; empty when none do."""
    advised = [c for c in codecs if c.get("advice")]
    if not advised:
        return []
    lines = ["", "### Data advice (learning curve over sources)", ""]
    for codec in advised:
        first, *rest = advice_lines(codec["advice"])
        lines.append(f"- **{codec['codec']}** {_md(first)}")
        lines += [f"  - {_md(line.strip())}" for line in rest]
    return lines


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
