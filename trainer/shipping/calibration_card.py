"""The card's ``## Calibration`` section: how far to trust the model, in numbers and plain words.

It lives in its own marked block (like the status block) because it describes the model *on a
corpus*: each run that writes the sidecar rewrites it, and a model without a calibration has none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from trainer.core.sections import entries
from trainer.shipping.harness_command import COMMAND_ALPHA, command_note, curve_rows, predict_command

CALIBRATION_BEGIN = "<!-- calibration:begin -->"
CALIBRATION_END = "<!-- calibration:end -->"
_BLOCK = re.compile(re.escape(CALIBRATION_BEGIN) + r".*?" + re.escape(CALIBRATION_END) + r"\n?", re.S)
_METHODS = {
    "cv-plus": "cross-validation+ (Barber et al. 2021): the LOSO fold models' errors on the sources each held "
               "out, for the model retrained on all of them; coverage >= 1 - 2 alpha in the worst case, "
               "about 1 - alpha in practice",
    "split-conformal": "split conformal (Lei et al. 2018): this very model's errors on sources it never saw; "
                       "coverage >= 1 - alpha for new sources exchangeable with these",
}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f} %"


def _signed_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{float(value):+.0f} %"


def calibration_block(codec: str, model_sha256: str, calibration: Mapping[str, Any], sidecar_name: str,
                      corpus_files: Sequence[str], harness_curve: Mapping[str, object] | None = None) -> str:
    """The marked ``## Calibration`` block for a model whose calibration status is ok.

    ``calibration`` is the report's section (learning.calibration.calibration_report): plain JSON values, its
    required keys indexed so a card is never written from a malformed one.

    Parameters
    ----------
    codec : str
        The model's codec, for the harness command's ``--codec`` and model file.
    model_sha256 : str
        The SHA-256 (hex) of the ONNX model the block describes.
    calibration : mapping
        The codec's ``calibration`` report section (status ok): method, set sizes, interval and pick tables.
    sidecar_name : str
        The calibration sidecar's file name in the model directory, for the harness command.
    corpus_files : sequence of str
        Each corpus file the set was judged on, already described in one line.
    harness_curve : mapping, optional
        The codec's ``harness_curve`` report section, for the curve's own picks; None: none listed.
    """
    lines = [
        CALIBRATION_BEGIN,
        "## Calibration",
        "",
        "How far to trust this model on content it never saw. Every number below was judged",
        "cross-conformally: each LOSO fold's margin came from the other folds' sources alone.",
        "",
        f"- model sha256: `{model_sha256}`",
        f"- method: {_METHODS.get(str(calibration['method']), str(calibration['method']))}",
        f"- set: {calibration['n_rows']} rows with measured VMAF >= {float(calibration['band_min_vmaf']):g} "
        f"(the decision band), {calibration['n_picks']} picks, {calibration['n_sources']} sources",
        f"- inputs: {calibration.get('inputs', 'the corpus probe inputs')}",
        *[f"- corpus file: {described}" for described in corpus_files],
        f"- sidecar: `{sidecar_name}` (split-conformal residuals, alpha 0.05, the harness's default)",
        "",
        "| alpha | interval +- VMAF | rows covered on held-out sources |",
        "|---|---|---|",
    ]
    for row in entries(calibration, "interval_table"):
        lines.append(f"| {row['alpha']:g} | {row['margin_vmaf']:.2f} | {_pct(row['row_coverage'])} |")
    command = predict_command(codec, calibration)
    lines += ["", *pick_lines(calibration, harness_curve), "",
              f"Harness ({command_note(calibration)}; the harness never adds it itself):", "", "```sh", command,
              f"{command} --with-uncertainty \\",
              f"    --calibration-sidecar model/{sidecar_name} --alpha {COMMAND_ALPHA:g}", "```", CALIBRATION_END, ""]
    return "\n".join(lines)


def pick_lines(calibration: Mapping[str, Any], harness_curve: Mapping[str, object] | None = None) -> list[str]:
    """The target offsets in plain words: what each does to misses and bitrate, then the harness's own curve."""
    plain = calibration.get("plain_pick")
    if not plain:
        return [f"Target offsets: none ({calibration.get('pick_status')})."]
    lines = [f"Target offsets for the harness's pick (asked for the target itself, {_pct(plain['miss_rate'])} of "
             f"held-out picks land more than 1 VMAF below it, at {_signed_pct(plain['mean_bitrate_overspend_pct'])} "
             "bitrate against the oracle):", ""]
    for row in entries(calibration, "pick_table"):
        pick = row["crf_pick"] or {}
        lines.append(f"- ask for target + {row['target_offset_vmaf']:.1f} to miss <= {100 * row['alpha']:g} % "
                     f"(held out: {_pct(pick.get('miss_rate'))} missed); costs about "
                     f"{_signed_pct(pick.get('mean_bitrate_overspend_pct'))} bitrate on this corpus")
    for label, pick in curve_rows(harness_curve):
        lines.append(f"- the harness's own curve, no model, {label}: {_pct(pick.get('miss_rate'))} missed at "
                     f"{_signed_pct(pick.get('mean_bitrate_overspend_pct'))} bitrate")
    return lines


def with_calibration(card_text: str, block: str | None) -> str:
    """The card with its calibration block replaced, removed (None) or put before the status block."""
    body = _BLOCK.sub("", card_text)
    if block is None:
        return body
    status = body.find("<!-- status:begin -->")
    if status < 0:
        return body + ("" if body.endswith("\n") else "\n") + block
    return body[:status] + block + body[status:]


def has_calibration(card_text: str) -> bool:
    return _BLOCK.search(card_text) is not None
