"""Read a finished report.json back into the engine's result objects (for ``--review``).

Only the schema this build writes is accepted: an older or newer report could silently mean
something else field by field, so it is refused with a message that names both versions.
"""

from __future__ import annotations

import json
from pathlib import Path

from trainer.core.codecs import CODEC_INDEX
from trainer.learning.results import STATUSES, CodecResult, FoldResult
from trainer.learning.selection import FoldChoice
from trainer.outputs.report import REPORT_SCHEMA_VERSION


class ReportUnreadable(Exception):
    """The file is not a report this build can show (missing, not JSON, other schema, malformed)."""


def _number(value: float | None) -> float:
    """A report metric back as the engine holds it: null (an undefined metric) is NaN again."""
    return float("nan") if value is None else float(value)


def read_report(path: Path) -> dict:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportUnreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ReportUnreadable(f"{path} is not JSON: {exc}") from None
    if not isinstance(report, dict):
        raise ReportUnreadable(f"{path} is not a report (a JSON object is expected)")
    version = report.get("schema_version")
    if version != REPORT_SCHEMA_VERSION:
        raise ReportUnreadable(f"{path} has report schema version {version!r}; this build reads version "
                               f"{REPORT_SCHEMA_VERSION} (use the predictor-console release that wrote it)")
    try:
        codec_results(report)
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportUnreadable(f"{path} is malformed: {type(exc).__name__}: {exc}") from None
    return report


def codec_results(report: dict) -> dict[str, CodecResult]:
    """Each codec entry as the CodecResult that produced it (fold timings are not kept: 0)."""
    results: dict[str, CodecResult] = {}
    for entry in report["codecs"]:
        codec = entry["codec"]
        if codec not in CODEC_INDEX or entry["status"] not in STATUSES:
            raise ValueError(f"unknown codec or status: {codec!r} {entry['status']!r}")
        baseline = {f["fold_index"]: f for f in ((entry.get("baseline") or {}).get("folds") or [])}
        folds = [
            FoldResult(codec=codec, fold_index=int(f["fold_index"]), held_out_sources=tuple(f["held_out_sources"]),
                       plcc=_number(f["plcc"]), srocc=_number(f["srocc"]), rmse=_number(f["rmse"]),
                       n_train=int(f["n_train"]), n_val=int(f["n_val"]), seconds=0.0,
                       baseline_plcc=_number(baseline.get(f["fold_index"], {}).get("plcc")),
                       baseline_rmse=_number(baseline.get(f["fold_index"], {}).get("rmse")),
                       crf_pick=f.get("crf_pick"), crf_pick_harness_probe=f.get("crf_pick_harness_probe"),
                       crf_pick_harness_probe_0kbps=f.get("crf_pick_harness_probe_0kbps"),
                       model_choice=FoldChoice.from_report(f["model_choice"]) if f.get("model_choice") else None)
            for f in entry["folds"]
        ]
        results[codec] = CodecResult(
            codec=codec, status=entry["status"], n_rows_total=int(entry["n_rows_total"]),
            n_distinct_sources=int(entry["n_distinct_sources"]), failure_reasons=list(entry["failure_reasons"]),
            folds=folds, corpus_provenance=list(entry.get("corpus_provenance") or []),
            mean_plcc=entry.get("mean_plcc"), plcc_spread=entry.get("plcc_spread"),
            incumbent=_incumbent(entry.get("incumbent")), recorded_choice=_recorded_choice(entry.get("model_choice")),
            calibration=_calibration(entry.get("calibration")),
            harness_curve=_harness_curve(entry.get("harness_curve")))
    return results


def _recorded_choice(entry: object) -> dict | None:
    """The final model choice as the run recorded it: an older report's folds cannot recompute it."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or "chosen" not in entry:
        raise ValueError("codecs[].model_choice is not a model choice")
    return entry


def _harness_curve(entry: object) -> dict | None:
    """The harness curve's rows and the floor verdict as recorded (older reports: none)."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("floor"), dict):
        raise ValueError("codecs[].harness_curve is missing its floor")
    return entry


CALIBRATION_KEYS = ("status", "method", "interval_table", "pick_table")


def _calibration(entry: object) -> dict | None:
    """A codec's calibration as recorded (older reports: none); a malformed one makes the report unreadable."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or not all(k in entry for k in CALIBRATION_KEYS):
        raise ValueError("codecs[].calibration is missing fields")
    if not isinstance(entry["interval_table"], list) or not isinstance(entry["pick_table"], list):
        raise ValueError("codecs[].calibration tables are not lists")
    return entry


INCUMBENT_KEYS = ("kind", "sha256", "n_rows", "n_sources", "plcc", "rmse", "crf_pick", "challenger")


def _incumbent(entry: object) -> dict | None:
    """The comparison with the shipped model, if the report has a well-formed one (older reports: none)."""
    if not isinstance(entry, dict) or "comparable" not in entry:
        return None
    if entry["comparable"] and not (all(k in entry for k in INCUMBENT_KEYS) and isinstance(entry["challenger"], dict)):
        raise ValueError("codecs[].incumbent is missing fields")
    return entry
