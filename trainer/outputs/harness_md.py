"""The Markdown summary's harness sections: the curve beside the models, the floor warning, the predict command.

Everything comes from report.json (``codecs[].harness_curve``, ``crf_pick_harness_probe_0kbps``, the
calibrations and the promotion plan), so a summary rebuilt from a downloaded report says the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from trainer.core.sections import entries, section
from trainer.outputs.calibration_text import percent, signed_percent
from trainer.shipping.harness_command import command_note, curve_rows, predict_command

Table = Callable[[Sequence[str], Sequence[Sequence[object]]], list[str]]
PICK_HEADER = ["pick off by (steps)", "VMAF off at pick", "miss rate", "bitrate vs oracle"]


def probe_rows(codec: Mapping, cells: Callable[[Mapping | None], list[str]]) -> list[list[object]]:
    """The harness-probe table's rows of one codec: each model with its probe as measured and at 0 kbps."""
    incumbent = codec.get("incumbent") or {}
    curve = codec.get("harness_curve") or {}
    sides = (("this model", codec), (f"shipped {incumbent.get('kind', 'model')}", incumbent),
             ("harness curve, no model", curve))
    rows = []
    for label, scores in sides:
        for key, fed in (("crf_pick_harness_probe", "as measured"), ("crf_pick_harness_probe_0kbps", "0 kbps")):
            pick = scores.get(key) if isinstance(scores, Mapping) else None
            if pick:
                rows.append([codec["codec"], label, fed, pick["n"], *cells(pick)])
    return rows


def curve_lines(codecs: Sequence[Mapping], cells: Callable[[Mapping | None], list[str]], table: Table) -> list[str]:
    """The harness's own curve on the corpus's probe inputs (the same ladders as the models' first table)."""
    rows = [[c["codec"], c["harness_curve"]["crf_pick"]["n"], *cells(c["harness_curve"]["crf_pick"])]
            for c in codecs if (c.get("harness_curve") or {}).get("crf_pick")]
    if not rows:
        return []
    return ["", "The harness's own analytical curve with no model (vmaftune.predictor at c2a3c7e0), same ladders:",
            "", *table(["codec", "picks", *PICK_HEADER], rows)]


def floor_lines(codecs: Sequence[Mapping]) -> list[str]:
    """The warning, plainly, for every codec whose model in the model directory picks worse than the curve."""
    warned = [(c["codec"], w) for c in codecs for w in ((c.get("harness_curve") or {}).get("floor") or {})
              .get("warnings") or []]
    return [line for codec, warning in warned for line in ("", f"> **Warning ({codec})**: {warning}.")]


def calibration_curve_rows(harness_curve: Mapping | None) -> list[list[str]]:
    """The calibration table's rows for the harness's curve (CALIBRATION_HEADER's columns): asked for the target
    itself, as the harness asks, on the same picks the floor compared."""
    return [[f"harness curve {label}", "plain", "-", "-", "+0.0", percent(pick.get("miss_rate")),
             signed_percent(pick.get("mean_bitrate_overspend_pct"))] for label, pick in curve_rows(harness_curve)]


def predict_lines(report: Mapping[str, object], codecs: Sequence[Mapping]) -> list[str]:
    """``vmaf-tune predict`` for the model each judged codec leaves in the model directory, offset added."""
    promoted = {c.get("codec") for c in entries(report, "promotion", "planned") if c.get("action") == "replace-model"}
    model_dir = str(section(report, "run_provenance", "args").get("model_dir") or "model")
    lines = []
    for codec in codecs:
        if codec["status"] in ("missing-rows", "insufficient-sources", "error"):
            continue
        name = str(codec["codec"])
        incumbent = codec.get("incumbent") or {}
        if name in promoted:
            which, calibration = "this run's model (promoted)", codec.get("calibration")
        elif incumbent.get("comparable"):
            which, calibration = f"the kept {incumbent.get('kind')} model", incumbent.get("calibration")
        else:
            continue
        lines += ["", f"**{name}**, {which}: {command_note(calibration)}.", "", "```sh",
                  predict_command(name, calibration, model_dir), "```"]
    if not lines:
        return []
    return ["", "### The harness with this model", "",
            "The harness never reads our target offset; the command asks for it. At c2a3c7e0 `predict` needs two "
            "one-line fixes first (docs/harness.md).", *lines]
