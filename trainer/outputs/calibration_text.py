"""Calibration in words and tables: one line per codec for logs and JUnit, a table for the Markdown summary.

Every face reads the same report dicts (``codecs[].calibration`` for the model a PASS would ship,
``codecs[].incumbent.calibration`` for the model kept otherwise), so the numbers agree everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

SHOWN_ALPHA = 0.10  # the level the one-line summaries quote (the tables show every alpha)


def _row(table: object, alpha: float) -> Mapping | None:
    return next((r for r in table or [] if isinstance(r, Mapping) and r.get("alpha") == alpha), None)  # type: ignore[union-attr]


def _pct(value: object) -> str:
    return "-" if value is None else f"{100 * float(value):.0f} %"  # type: ignore[arg-type]


def target_offset(calibration: Mapping | None, alpha: float = SHOWN_ALPHA) -> float | None:
    """The calibrated target offset at ``alpha``; None without a calibration or offsets."""
    if not isinstance(calibration, Mapping) or calibration.get("status") != "ok":
        return None
    row = _row(calibration.get("pick_table"), alpha)
    return None if row is None or row.get("target_offset_vmaf") is None else float(row["target_offset_vmaf"])


def calibration_summary(calibration: Mapping | None) -> str | None:
    """``+-7.34 VMAF (87 % covered), target +2.1 -> 11 % misses at +46 % bitrate`` at SHOWN_ALPHA; None: none."""
    if not isinstance(calibration, Mapping):
        return None
    if calibration.get("status") != "ok":
        return f"none ({calibration.get('status')}: {calibration.get('reason')})"
    interval = _row(calibration.get("interval_table"), SHOWN_ALPHA) or {}
    text = f"+-{float(interval.get('margin_vmaf') or 0):.2f} VMAF ({_pct(interval.get('row_coverage'))} covered)"
    pick = _row(calibration.get("pick_table"), SHOWN_ALPHA)
    if pick and pick.get("crf_pick"):
        crf = pick["crf_pick"]
        overspend = crf.get("mean_bitrate_overspend_pct")
        text += (f", target {float(pick['target_offset_vmaf']):+.1f} -> {_pct(crf.get('miss_rate'))} misses"
                 + ("" if overspend is None else f" at {float(overspend):+.0f} % bitrate"))
    return text


def calibration_line(calibration: Mapping | None, incumbent: Mapping | None) -> str | None:
    """One line: how far to trust this model (if promoted) and the shipped one (if kept), at alpha 0.10."""
    parts = []
    mine = calibration_summary(calibration)
    if mine is not None:
        parts.append(f"this model {mine}")
    kept = (incumbent or {}).get("calibration") if isinstance(incumbent, Mapping) else None
    theirs = calibration_summary(kept)
    if theirs is not None:
        parts.append(f"shipped {incumbent.get('kind', 'model')} {theirs}")  # type: ignore[union-attr]
    return f"calibration at alpha {SHOWN_ALPHA:g}: " + "; ".join(parts) if parts else None


def calibration_rows(label: str, calibration: Mapping | None) -> list[list[str]]:
    """Table rows (model, alpha, interval, coverage, target offset, misses, bitrate) for one calibration."""
    if not isinstance(calibration, Mapping) or calibration.get("status") != "ok":
        return []
    rows = []
    plain = calibration.get("plain_pick")
    if isinstance(plain, Mapping):
        rows.append([label, "plain", "-", "-", "+0.0", _pct(plain.get("miss_rate")),
                     _signed(plain.get("mean_bitrate_overspend_pct"))])
    picks = {r["alpha"]: r for r in calibration.get("pick_table") or []}  # type: ignore[union-attr]
    for interval in calibration.get("interval_table") or []:  # type: ignore[union-attr]
        pick = picks.get(interval["alpha"]) or {}
        crf = pick.get("crf_pick") or {}
        offset = pick.get("target_offset_vmaf")
        rows.append([label, f"{interval['alpha']:g}", f"+-{float(interval['margin_vmaf']):.2f}",
                     _pct(interval.get("row_coverage")), "-" if offset is None else f"{float(offset):+.1f}",
                     _pct(crf.get("miss_rate")), _signed(crf.get("mean_bitrate_overspend_pct"))])
    return rows


CALIBRATION_HEADER = ["model", "alpha", "interval (VMAF)", "rows covered", "target offset", "pick misses",
                      "bitrate vs oracle"]


def _signed(value: object) -> str:
    return "-" if value is None else f"{float(value):+.0f} %"  # type: ignore[arg-type]
