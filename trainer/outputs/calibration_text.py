"""Calibration in words and tables: one line per codec for logs and JUnit, a table for the Markdown summary.

Every face reads the same report dicts (``codecs[].calibration`` for the model a PASS would ship,
``codecs[].incumbent.calibration`` for the model kept otherwise), so the numbers agree everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainer.core.sections import EMPTY, entries, section

SHOWN_ALPHA = 0.10  # the level the one-line summaries quote (the tables show every alpha)


def _row(calibration: Mapping[str, Any], key: str, alpha: float) -> Mapping[str, Any] | None:
    """The row at ``alpha`` of the per-alpha table ``calibration[key]``; None where it has none."""
    return next((r for r in entries(calibration, key) if r.get("alpha") == alpha), None)


def percent(value: float | None) -> str:
    """A share (0-1) as the calibration tables print it, ``-`` where there is none."""
    return "-" if value is None else f"{100 * float(value):.0f} %"


def target_offset(calibration: object, alpha: float = SHOWN_ALPHA) -> float | None:
    """The calibrated target offset at ``alpha``; None without a calibration or offsets."""
    if not isinstance(calibration, Mapping) or calibration.get("status") != "ok":
        return None
    row = _row(calibration, "pick_table", alpha)
    return None if row is None or row.get("target_offset_vmaf") is None else float(row["target_offset_vmaf"])


def calibration_summary(calibration: object) -> str | None:
    """``+-7.34 VMAF (87 % covered), target +2.1 -> 11 % misses at +46 % bitrate`` at SHOWN_ALPHA; None: none."""
    if not isinstance(calibration, Mapping):
        return None
    if calibration.get("status") != "ok":
        return f"none ({calibration.get('status')}: {calibration.get('reason')})"
    interval = _row(calibration, "interval_table", SHOWN_ALPHA) or EMPTY
    text = f"+-{float(interval.get('margin_vmaf') or 0):.2f} VMAF ({percent(interval.get('row_coverage'))} covered)"
    pick = _row(calibration, "pick_table", SHOWN_ALPHA)
    if pick and pick.get("crf_pick"):
        crf = pick["crf_pick"]
        overspend = crf.get("mean_bitrate_overspend_pct")
        text += (f", target {float(pick['target_offset_vmaf']):+.1f} -> {percent(crf.get('miss_rate'))} misses"
                 + ("" if overspend is None else f" at {float(overspend):+.0f} % bitrate"))
    return text


def calibration_line(calibration: object, incumbent: object) -> str | None:
    """One line: how far to trust this model (if promoted) and the shipped one (if kept), at alpha 0.10.

    Both are report sections (``codecs[].calibration``, ``codecs[].incumbent``) as a run or report.json has them.
    """
    parts = []
    mine = calibration_summary(calibration)
    if mine is not None:
        parts.append(f"this model {mine}")
    theirs = calibration_summary(section(incumbent).get("calibration"))
    if theirs is not None:
        parts.append(f"shipped {section(incumbent).get('kind', 'model')} {theirs}")
    return f"calibration at alpha {SHOWN_ALPHA:g}: " + "; ".join(parts) if parts else None


def calibration_rows(label: str, calibration: object) -> list[list[str]]:
    """Table rows (model, alpha, interval, coverage, target offset, misses, bitrate) for one calibration."""
    if not isinstance(calibration, Mapping) or calibration.get("status") != "ok":
        return []
    rows = []
    plain = calibration.get("plain_pick")
    if isinstance(plain, Mapping):
        rows.append([label, "plain", "-", "-", "+0.0", percent(plain.get("miss_rate")),
                     signed_percent(plain.get("mean_bitrate_overspend_pct"))])
    picks = {r["alpha"]: r for r in entries(calibration, "pick_table")}
    for interval in entries(calibration, "interval_table"):
        pick = picks.get(interval["alpha"]) or EMPTY
        crf = section(pick, "crf_pick")
        offset = pick.get("target_offset_vmaf")
        rows.append([label, f"{interval['alpha']:g}", f"+-{float(interval['margin_vmaf']):.2f}",
                     percent(interval.get("row_coverage")), "-" if offset is None else f"{float(offset):+.1f}",
                     percent(crf.get("miss_rate")), signed_percent(crf.get("mean_bitrate_overspend_pct"))])
    return rows


CALIBRATION_HEADER = ["model", "alpha", "interval (VMAF)", "rows covered", "target offset", "pick misses",
                      "bitrate vs oracle"]


def signed_percent(value: float | None) -> str:
    """A bitrate change already in percent, signed, as the calibration tables print it; ``-`` where there is none."""
    return "-" if value is None else f"{float(value):+.0f} %"
