"""The calibration sidecar the harness reads beside a model, written and checked.

Format: exactly what ``vmaftune.conformal.SplitConformalCalibration.to_json`` writes (keys sorted,
``{"alpha", "method": "split-conformal", "n", "residuals"}``), so the harness's
``load_split_calibration`` reads it; its loader ignores other keys, so the model's sha256, the
codec and the pick offsets ride along. A sidecar is only trusted for the model whose sha256 it
names: one that is missing, unreadable or names another model is reported, never used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.core.sections import entries
from trainer.learning.calibration import SIDECAR_ALPHA, conformal_quantile

SIDECAR_METHOD = "split-conformal"  # the only method the harness's sidecar loader accepts


def sidecar_bytes(codec: str, model_sha256: str, calibration: Mapping[str, Any]) -> bytes:
    """The sidecar for the model ``model_sha256`` from a calibration report whose status is ok.

    ``calibration`` is the report's section as built (learning.calibration.calibration_report) or read back:
    plain JSON values, its required keys indexed so a malformed one fails here rather than ships.
    """
    residuals = sorted(float(r) for r in calibration["residuals"])
    doc = {
        "alpha": SIDECAR_ALPHA,
        "method": SIDECAR_METHOD,
        "n": len(residuals),
        "residuals": residuals,
        "codec": codec,
        "model_sha256": model_sha256,
        "calibration": calibration["method"],
        "band_min_vmaf": calibration["band_min_vmaf"],
        "n_sources": calibration["n_sources"],
        "inputs": calibration.get("inputs"),
        "pick_offsets": [{"alpha": row["alpha"], "target_offset_vmaf": row["target_offset_vmaf"]}
                         for row in entries(calibration, "pick_table")],
    }
    return (json.dumps(doc, sort_keys=True) + "\n").encode("utf-8")


@dataclass(frozen=True)
class SidecarCheck:
    """What a sidecar on disk is worth for one model: ``status`` ok | missing | unreadable | other-model."""

    status: str
    detail: str = ""
    margin_vmaf: float | None = None  # at the sidecar's alpha, as the harness computes it (status ok only)

    def as_report(self) -> dict[str, object]:
        return {"status": self.status, "detail": self.detail, "margin_vmaf": self.margin_vmaf}


def check_sidecar(path: Path, model_sha256: str) -> SidecarCheck:
    """Read ``path`` as the harness would, and say whether it belongs to the model ``model_sha256``."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return SidecarCheck("missing", f"no {Path(path).name}: the harness prints a zero-width interval")
    except (OSError, ValueError) as exc:
        return SidecarCheck("unreadable", f"{Path(path).name}: {' '.join(str(exc).split())[:200]}")
    problem = _format_problem(doc)
    if problem:
        return SidecarCheck("unreadable", f"{Path(path).name}: {problem}")
    if doc.get("model_sha256") != model_sha256:
        named = str(doc.get("model_sha256"))[:12]
        return SidecarCheck("other-model", f"{Path(path).name} calibrates model {named}, not {model_sha256[:12]}")
    return SidecarCheck("ok", Path(path).name, conformal_quantile(doc["residuals"], float(doc["alpha"])))


def _format_problem(doc: object) -> str | None:
    if not isinstance(doc, dict):
        return "not a JSON object"
    if doc.get("method") != SIDECAR_METHOD:
        return f"method {doc.get('method')!r} is not {SIDECAR_METHOD!r}"
    alpha, residuals = doc.get("alpha"), doc.get("residuals")
    if not isinstance(alpha, int | float) or not 0.0 < float(alpha) < 1.0:
        return f"alpha {alpha!r} is not in (0, 1)"
    if not isinstance(residuals, list) or not all(
            isinstance(r, int | float) and math.isfinite(r) and r >= 0 for r in residuals):
        return "residuals are not a list of non-negative finite numbers"
    if doc.get("n") != len(residuals):
        return f"n {doc.get('n')!r} does not match {len(residuals)} residuals"
    return None
