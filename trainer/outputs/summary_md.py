"""A pull-request-ready Markdown summary of a finished report (also GitHub's step summary).

Everything comes from report.json, so a summary can be rebuilt from a report downloaded from CI.
Names from corpora are cut to a sane length and table cells are escaped: a ``|`` in a source
name must not break the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainer.core.display import clip, clip_path
from trainer.core.gate import GATE_ADR, SHIP_GATE_MEAN_PLCC, SHIP_GATE_PER_FOLD_MIN, SHIP_GATE_PLCC_SPREAD_MAX
from trainer.core.sections import entries, section
from trainer.outputs.advice_text import advice_markdown
from trainer.outputs.calibration_text import CALIBRATION_HEADER, calibration_rows
from trainer.outputs.describe import probe_assumed
from trainer.outputs.harness_md import (
    PICK_HEADER,
    calibration_curve_rows,
    curve_lines,
    floor_lines,
    predict_lines,
    probe_rows,
)

STATUS_MARK = {"pass": "✅ pass", "fail": "❌ fail", "insufficient-sources": "⚠️ insufficient-sources",
               "missing-rows": "➖ missing-rows", "error": "💥 error"}
MAX_LISTED = 50  # files, plan rows and examples beyond this are counted, not listed


def _cell(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


def _weakest_fold(codec: Mapping[str, Any]) -> str:
    folds = [f for f in entries(codec, "folds") if f.get("plcc") is not None]
    if not folds:
        return "–"
    weakest = min(folds, key=lambda f: f["plcc"])
    return f"fold {weakest['fold_index']}: {weakest['plcc']:.4f}"


def _vs_shipped(incumbent: object) -> str:
    """PLCC of this model vs the shipped one on the rows the shipped one never saw."""
    if not isinstance(incumbent, Mapping):
        return "–"
    if not incumbent.get("comparable"):
        return f"not comparable: {clip(str(incumbent.get('reason')), 80)}"
    mine = section(incumbent, "challenger")
    return (f"{_num(mine.get('plcc'))} vs {_num(incumbent.get('plcc'))} ({incumbent.get('kind')}, "
            f"{incumbent.get('n_rows')} rows)")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def summary_markdown(report: Mapping[str, object]) -> str:
    summary = section(report, "summary")
    codecs = entries(report, "codecs")
    profile = section(report, "profile")
    args = section(report, "run_provenance", "args")
    headline = (f"{summary['n_pass']} pass, {summary['n_fail']} fail, {summary['n_insufficient']} "
                f"insufficient-sources, {summary['n_missing_rows']} missing-rows, {summary['n_error']} error")
    lines = [
        f"## VMAF predictor gate: {headline}",
        "",
        f"{GATE_ADR}: mean fold PLCC ≥ {SHIP_GATE_MEAN_PLCC}, spread ≤ {SHIP_GATE_PLCC_SPREAD_MAX}, every fold ≥ "
        f"{SHIP_GATE_PER_FOLD_MIN}, 5-fold leave-one-source-out · profile `{profile.get('name', '?')}` · "
        f"seed {args.get('seed', '?')} · report generated {report.get('generated_at_utc', '?')}",
        "",
    ]
    if summary.get("interrupted"):
        lines += [f"> **Interrupted by {summary.get('interrupted_by')}**: codecs without a verdict are `error`.", ""]
    if summary.get("error"):
        lines += [f"> **Internal error** ({summary.get('error')}): codecs without a verdict are `error`; "
                  "the traceback is in the run log.", ""]
    lines += _table(
        ["codec", "status", "mean PLCC", "spread", "weakest fold", "linear baseline PLCC", "vs shipped", "rows",
         "sources"],
        [[c["codec"], STATUS_MARK.get(c["status"], c["status"]), _num(c["mean_plcc"]), _num(c["plcc_spread"]),
          _weakest_fold(c), _num((c.get("baseline") or {}).get("mean_plcc")), _vs_shipped(c.get("incumbent")),
          c["n_rows_total"], c["n_distinct_sources"]] for c in codecs],
    )
    lines += ["", *_crf_pick_lines(codecs, section(report, "harness"))]
    lines += floor_lines(codecs)
    lines += _calibration_lines(codecs)
    lines += predict_lines(report, codecs)
    not_passing = [c for c in codecs if c["status"] != "pass"]
    if not_passing:
        lines += ["", "### Why codecs did not pass", ""]
        for c in not_passing:
            reasons = "; ".join(c["failure_reasons"]) or c["status"]
            lines.append(f"- **{c['codec']}** ({c['status']}): {_cell(clip(reasons, 400))}")
        lines += advice_markdown(not_passing)
    lines += ["", *_promotion_lines(report.get("promotion"))]
    lines += ["", *_corpus_lines(report)]
    return "\n".join(lines) + "\n"


def _pick_cell(pick: Mapping[str, Any] | None, key: str, spec: str = ".2f", scale: float = 1.0, unit: str = "") -> str:
    value = (pick or {}).get(key)
    return "-" if value is None else f"{scale * float(value):{spec}}{unit}"


def _crf_pick_lines(codecs: Sequence[Mapping[str, Any]], harness: Mapping[str, object]) -> list[str]:
    """The models judged as the harness uses them: held-out picks per codec ("-": no quality ladders)."""
    lines = ["### CRF picks on held-out ladders (as the harness uses the model)", "",
             "Pick = largest quality whose prediction meets the target (80–95), probe inputs fixed; oracle = "
             "largest quality whose measured VMAF does; miss = measured VMAF at the pick > 1 below target.", ""]
    lines += _table(
        ["codec", "probe", "picks", "pick off by (steps)", "VMAF off at pick", "miss rate", "bitrate vs oracle"],
        [[c["codec"], probe_assumed(str(c["codec"]), harness) or "-", (c.get("crf_pick") or {}).get("n", "-"),
          *_pick_cells(c.get("crf_pick"))] for c in codecs],
    )
    lines += curve_lines(codecs, _pick_cells, _table)
    probed = [row for c in codecs if c.get("crf_pick_harness_probe") for row in probe_rows(c, _pick_cells)]
    if probed:  # --harness-probes: the same picks fed the harness's own probe of each clip
        lines += ["", "With the harness's own probe of each clip as input (`--harness-probes`): its bitrate as "
                  "measured, and the 0 kbps the published harness sends (a model's graph recovers it from the "
                  "frame sizes; the curve cannot):", ""]
        lines += _table(["codec", "model", "probe bitrate", "picks", *PICK_HEADER], probed)
    return lines


def _calibration_lines(codecs: Sequence[Mapping[str, Any]]) -> list[str]:
    """How far to trust each codec's model: margins and target offsets, judged on held-out sources."""
    rows = [[c["codec"], *row] for c in codecs
            for row in (calibration_rows("this model", c.get("calibration"))
                        + calibration_rows(f"shipped {(c.get('incumbent') or {}).get('kind', 'model')}",
                                           (c.get("incumbent") or {}).get("calibration")))]
    rows += [[c["codec"], *row] for c in codecs if rows for row in calibration_curve_rows(c.get("harness_curve"))]
    if not rows:
        return []
    return ["", "### Calibration (how far to trust the model; each fold judged by the other folds' margins)", "",
            "Interval: the harness's `--with-uncertainty` half-width at that alpha. Target offset: ask the harness for "
            "target + offset to hold that miss rate.", "", *_table(["codec", *CALIBRATION_HEADER], rows)]


def _pick_cells(pick: Mapping[str, Any] | None) -> list[str]:
    return [_pick_cell(pick, "mean_abs_quality_error"), _pick_cell(pick, "mean_abs_vmaf_error"),
            _pick_cell(pick, "miss_rate", ".0f", 100.0, " %"),
            _pick_cell(pick, "mean_bitrate_overspend_pct", "+.1f", unit=" %")]


def _promotion_lines(promotion: object) -> list[str]:
    lines = ["### Promotion plan", ""]
    if not isinstance(promotion, Mapping):
        return [*lines, "No promotion section in this report."]
    if "skipped" in promotion:
        return [*lines, f"Skipped: {_cell(promotion['skipped'])}."]
    planned = list(promotion.get("planned") or [])
    applied = bool(promotion.get("applied"))
    if planned:
        state = f"applied; backup `{promotion.get('backup_stamp')}`" if applied else "not applied (review, then --yes)"
        lines += [f"{len(planned)} file change(s), {state}.", ""]
        lines += _table(["file", "action", "old sha256", "new sha256", "why"],
                        [[f"`{Path(str(c['path'])).name}`", c["action"], (c["old_sha256"] or "(new)")[:12],
                          c["new_sha256"][:12], c["reason"]] for c in planned[:MAX_LISTED]])
        if len(planned) > MAX_LISTED:
            lines.append(f"… and {len(planned) - MAX_LISTED} more in report.json")
    else:
        lines.append("No model-directory changes planned.")
    if promotion.get("error"):
        lines += ["", f"**Not applied:** {_cell(promotion['error'])}"]
    for codec, reasons in (promotion.get("blocked") or {}).items():
        lines.append(f"- blocked **{codec}**: {_cell('; '.join(reasons))}")
    return lines


def _corpus_lines(report: Mapping[str, object]) -> list[str]:
    corpus = section(report, "corpus")
    inputs = list(section(report, "run_provenance").get("inputs") or [])
    aggregated = corpus.get("aggregated") or {}
    lines = ["### Corpus", "",
             f"{corpus.get('rows_accepted', 0)} rows accepted from {len(inputs)} file(s)"
             + (f"; {aggregated['frames']} per-frame rows aggregated into {aggregated['clips']} clips"
                if aggregated.get("frames") else "") + "."]
    if inputs:
        lines += ["", *_table(["file", "bytes", "sha256"],
                              [[f"`{clip_path(str(i['path']))}`", i["bytes"], f"`{i['sha256']}`"]
                               for i in inputs[:MAX_LISTED]])]
    for problem in corpus.get("unreadable_files") or []:
        lines.append(f"- unreadable: {_cell(clip(str(problem), 200))}")
    rejected = {r: n for r, n in section(corpus, "rejected").items() if n}
    lines += ["", "### Rejected rows", ""]
    if not rejected:
        return [*lines, "None."]
    by_count = sorted(rejected.items(), key=lambda kv: -kv[1])  # most rows first
    lines += _table(["reason", "rows"], by_count)
    examples = list(corpus.get("rejected_examples") or [])[:MAX_LISTED]
    if examples:
        lines += ["", "First examples:", "", *(f"- `{_cell(clip(str(e), 200))}`" for e in examples)]
    for name, count in sorted((corpus.get("unknown_codecs") or {}).items()):
        lines.append(f"- unknown codec `{_cell(clip(name))}`: {count} rows")
    return lines
