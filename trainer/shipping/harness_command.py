"""What an operator types to use a model with the harness, and what the card says of the harness's own curve.

The harness never reads our calibrated target offset (``pick_offsets`` in the sidecar is ignored:
issue #40), so the one way to hold the stated miss rate is to ask for ``target + offset``. The
command printed here has the offset for alpha 0.10 already added, for the harness's default target
93, rounded up to 0.01 so the asked target is never below the calibrated one. The flags are those of
``vmaf-tune predict`` at commit c2a3c7e0 (cli.py:219-331: ``--source``, ``--codec``, ``--model``,
``--target-vmaf``); that commit's ``predict`` stops with a TypeError before it loads the model until
cli.py:1363 and cli.py:1468 are fixed (docs/harness.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from trainer.core.sections import entries, section, strings

COMMAND_ALPHA = 0.10
HARNESS_DEFAULT_TARGET = 93.0  # ``vmaf-tune predict --target-vmaf`` default
UNFIXABLE = 100.0  # learning.pick_offsets.UNFIXABLE_OFFSET: no offset saves the pick


def alpha_offset(calibration: Mapping[str, object] | None, alpha: float = COMMAND_ALPHA) -> float | None:
    """The calibrated target offset at ``alpha``; None without a calibration with offsets."""
    if not isinstance(calibration, Mapping) or calibration.get("status") != "ok":
        return None
    for row in entries(calibration, "pick_table"):
        if row.get("alpha") == alpha and row.get("target_offset_vmaf") is not None:
            return float(row["target_offset_vmaf"])
    return None


def asked_target(offset: float | None, target: float = HARNESS_DEFAULT_TARGET) -> float:
    """``target + offset`` rounded up to 0.01 (the target itself without a usable offset)."""
    if offset is None or offset >= UNFIXABLE:
        return target
    return math.ceil(round((target + offset) * 100.0, 6)) / 100.0


def predict_command(codec: str, calibration: Mapping[str, object] | None, model_dir: str = "model",
                    target: float = HARNESS_DEFAULT_TARGET) -> str:
    """``vmaf-tune predict --source CLIP --codec C --model DIR/predictor_C.onnx --target-vmaf T+offset``."""
    asked = asked_target(alpha_offset(calibration), target)
    return (f"vmaf-tune predict --source CLIP --codec {codec} --model {model_dir.rstrip('/')}/predictor_{codec}.onnx "
            f"--target-vmaf {asked:.2f}")


def command_note(calibration: Mapping[str, object] | None, target: float = HARNESS_DEFAULT_TARGET) -> str:
    """What the command's target is, in words."""
    offset = alpha_offset(calibration)
    if offset is None:
        return f"target {target:g} as asked: no calibrated target offset for this model on this corpus"
    if offset >= UNFIXABLE:
        return f"target {target:g} as asked: no target offset holds alpha {COMMAND_ALPHA:g} on this corpus"
    return (f"target {target:g} {offset:+.2f} (the calibrated offset for alpha {COMMAND_ALPHA:g}: about "
            f"{100 * COMMAND_ALPHA:g} % misses); for another target T ask for T {offset:+.2f}")


def floor_lines(harness_curve: Mapping[str, object] | None) -> list[str]:
    """The card's lines on the harness's own curve: the warning, or that the model is not worse."""
    floor = (harness_curve or {}).get("floor")
    if not isinstance(floor, Mapping):
        return []
    if floor.get("warnings"):
        return [f"- WARNING: {w}" for w in strings(floor, "warnings")]
    if not floor.get("judged"):
        reason = floor.get("reason") or section(floor, "as_published").get("reason")
        return [f"- harness curve: not judged ({reason or 'no picks'})"]
    return [f"- harness curve: the {floor.get('model')} model does not pick worse than the harness's own curve "
            "(as published at 0 kbps, nor with the bitrate parse fixed) beyond sampling noise"]


CURVE_ROWS = (("as_published", "as published (0 kbps)"), ("parse_fixed", "with the bitrate parse fixed"))


def curve_rows(harness_curve: Mapping[str, object] | None) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, pooled pick) of the curve both ways, on the sources its floor comparison used (the kept model's,
    else this run's model's)."""
    floor = (harness_curve or {}).get("floor")
    if not isinstance(floor, Mapping):
        return []
    rows = []
    for key, label in CURVE_ROWS:
        for judged in (floor.get(key), section(floor, "challenger").get(key)):
            if isinstance(judged, Mapping) and judged.get("curve_pick"):
                rows.append((label, judged["curve_pick"]))
                break
    return rows
