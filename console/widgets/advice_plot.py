"""The data advisor's learning curve as text: mean fold PLCC and spread against training sources.

Each curve is a character plot with its ADR-0303 bound drawn across it (``-`` at 0.95 for the
mean, at 0.005 for the spread): ``o`` marks the mean over draws at a size, ``.`` each draw.
Below them: the verdict, the estimate with its range, and the outlier sources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import Static

from trainer.run import SHIP_GATE_MEAN_PLCC, SHIP_GATE_PLCC_SPREAD_MAX, clip, estimate_text, outlier_lines

PLOT_WIDTH, PLOT_HEIGHT = 48, 8
VERDICT_STYLE = {"more-sources-likely-enough": "bold green", "not-reachable-with-these-inputs": "bold red",
                 "too-few-points": "bold yellow"}


def _grid(points: Sequence[Mapping], key: str, bound: float, low: float, high: float) -> list[list[str]]:
    """Rows top (``high``) to bottom (``low``); columns spread the sizes evenly by rank."""
    grid = [[" "] * PLOT_WIDTH for _ in range(PLOT_HEIGHT)]

    def row_of(value: float) -> int:
        share = (min(max(value, low), high) - low) / (high - low)
        return PLOT_HEIGHT - 1 - round(share * (PLOT_HEIGHT - 1))

    bound_row = row_of(bound)
    grid[bound_row] = ["-"] * PLOT_WIDTH
    step = (PLOT_WIDTH - 1) / max(1, len(points) - 1)
    for i, point in enumerate(points):
        col = round(i * step)
        for draw in point["draws"]:
            grid[row_of(draw[key])][col] = "."
        grid[row_of(point[key])][col] = "o"
    return grid


def _plot(text: Text, points: Sequence[Mapping], key: str, bound: float, title: str, style_ok: bool) -> None:
    values = [d[key] for p in points for d in p["draws"]] + [bound]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.1, 1e-3)
    low, high = low - pad, high + pad
    text.append(f"{title}\n", style="bold")
    for r, row in enumerate(_grid(points, key, bound, low, high)):
        label = f"{high:7.4f} " if r == 0 else (f"{low:7.4f} " if r == PLOT_HEIGHT - 1 else " " * 8)
        text.append(label, style="dim")
        text.append("|" + "".join(row) + "\n", style="green" if style_ok else "red")
    sizes = [str(p["n_sources"]) for p in points]
    text.append(" " * 9 + "  ".join(sizes) + "   (training sources per fold)\n", style="dim")


def _estimate(fit: object) -> float | None:
    """A fit's ``estimate`` from the advice section; None where the fit has none."""
    value = fit.get("estimate") if isinstance(fit, Mapping) else None
    return float(value) if isinstance(value, int | float) else None


def render_advice(codec: str, advice: Mapping[str, object] | None, error: str | None = None) -> Text:
    """The advice screen's text: a plot turns red where its fit never reaches the bound.

    ``advice`` is the report's ``codecs[].advice`` (None while its folds still train); ``error``
    is why it could not be computed.
    """
    text = Text()
    if error:
        return text.append(f"{codec}: advice could not be computed: {error}", style="red")
    if advice is None:
        return text.append(f"{codec}: training on subsets of the sources in the background…", style="dim")
    if advice.get("error"):
        return text.append(f"{codec}: advice could not be computed: {advice['error']}", style="red")
    verdict = str(advice.get("verdict"))
    text.append(f"{codec}: ", style="bold")
    text.append(verdict, style=VERDICT_STYLE.get(verdict, "bold"))
    text.append(f"\n{advice.get('reading', '')}\n\n")
    curve = advice.get("curve")
    points: Sequence[Mapping] = curve if isinstance(curve, list) else []
    if points:
        ceiling, floor = _estimate(advice.get("mean_plcc_ceiling")), _estimate(advice.get("spread_floor"))
        _plot(text, points, "mean_plcc", SHIP_GATE_MEAN_PLCC, f"mean fold PLCC (bound {SHIP_GATE_MEAN_PLCC})",
              ceiling is None or ceiling >= SHIP_GATE_MEAN_PLCC)
        _plot(text, points, "spread", SHIP_GATE_PLCC_SPREAD_MAX,
              f"fold PLCC spread (bound {SHIP_GATE_PLCC_SPREAD_MAX})",
              floor is None or floor <= SHIP_GATE_PLCC_SPREAD_MAX)
        needed = [estimate_text(advice.get(k)) for k in ("sources_for_mean", "sources_for_spread", "sources_needed")]
        text.append(f"\nsources now {advice['sources_now']}; needed for the mean {needed[0]}, for the spread "
                    f"{needed[1]}, both {needed[2]}\n")
        if ceiling is not None:
            text.append(f"mean PLCC ceiling {_range_f(advice.get('mean_plcc_ceiling'))}, spread floor "
                        f"{_range_f(advice.get('spread_floor'))}\n")
    outliers = outlier_lines(advice)
    text.append("\noutlier sources (RMSE > 2x the median source's)\n", style="bold")
    if not outliers:
        text.append("none\n", style="dim")
    for line in outliers:
        text.append(f"{clip(line, 400)}\n", style="yellow")
    return text


def _range_f(estimate: object) -> str:
    if not isinstance(estimate, Mapping) or estimate.get("estimate") is None:
        return "-"
    low, high = estimate.get("low"), estimate.get("high")
    span = f" ({low:.4f}-{high:.4f})" if low is not None and high is not None else ""
    return f"{estimate['estimate']:.4f}{span}"


class AdvicePlot(Static):
    """One codec's advice, redrawn whole on each update (the plot is a few hundred characters)."""

    def show(self, codec: str, advice: Mapping[str, object] | None, error: str | None = None) -> None:
        """Show ``render_advice(codec, advice, error)``."""
        self.update(render_advice(codec, advice, error))
