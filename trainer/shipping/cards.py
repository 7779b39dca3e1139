"""Model cards: a byte-stable body and exactly one status block that each run replaces."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trainer.core.codecs import PROBE_PRESET, PROBE_QUALITY
from trainer.core.features import FEATURE_NAMES, LOG_INPUTS
from trainer.core.gate import GATE_ADR, SHIP_GATE_MEAN_PLCC, SHIP_GATE_PER_FOLD_MIN, SHIP_GATE_PLCC_SPREAD_MAX
from trainer.ingest.probes import ProbeCounts
from trainer.learning.profiles import DEFAULT_PROFILE
from trainer.learning.results import CodecResult
from trainer.shipping.harness_command import floor_lines
from trainer.shipping.onnx_export import OP_ALLOWLIST, OPSET
from trainer.shipping.provenance import (
    HASH_RULE,
    NAMES_FENCE,
    PROVENANCE_HEADING,
    SYNTHETIC,
    name_lines,
    sources_sha256,
)

STATUS_BEGIN = "<!-- status:begin -->"
STATUS_END = "<!-- status:end -->"
_STATUS_BLOCK = re.compile(re.escape(STATUS_BEGIN) + r".*?" + re.escape(STATUS_END) + r"\n?", re.S)

INPUT_NOTES = {
    "crf": "quality axis (crf, cq or q); 0 when absent",
    "probe_bitrate_kbps": "bitrate_kbps or actual_kbps; 0 when absent",
    "probe_i_frame_avg_bytes": "own value, else 5 x kbps*1000/8/fps",
    "probe_p_frame_avg_bytes": "own value, else 1 x kbps*1000/8/fps",
    "probe_b_frame_avg_bytes": "own value, else 0.5 x kbps*1000/8/fps",
    "shot_length_frames": "own value, else max(1, round(fps x duration_s))",
    "fps": "framerate; 0 when absent",
}


@dataclass(frozen=True)
class CardFacts:
    """What a card body states; everything here is stable for a given model file."""

    codec: str
    corpus_kind: str  # "real-N=<rows>" or "synthetic-stub-N=<rows>"
    n_rows: int
    n_sources: int | None
    data_files: Sequence[str]  # each already described: name, size, rows, sha256 (never a full path)
    metrics_lines: Sequence[str]
    ops_used: Sequence[str]
    onnx_sha256: str
    onnx_bytes: int
    stub: bool
    trained_sources: Sequence[str] | None = None  # None: no real source seen (stubs)
    harness_lines: Sequence[str] = ()  # the "## Harness inputs" section (``harness_inputs_section``)


def provenance_section(facts: CardFacts) -> list[str]:
    """What the model was trained on, precisely enough to score it only on sources it never saw.

    Read back by ``trainer.shipping.provenance.read_provenance``; byte-stable (sorted names, file
    names without directories).
    """
    lines = ["", PROVENANCE_HEADING, ""]
    names = name_lines(facts.trained_sources or ())
    real = facts.trained_sources is not None and bool(names)
    lines.append(f"- trained on: {'real sources' if real else SYNTHETIC}")
    lines.append(f"- source count: {len(names)}")
    lines.append(f"- sources sha256: `{sources_sha256(facts.trained_sources or ())}` ({HASH_RULE})")
    lines += [f"- corpus file: {described}" for described in facts.data_files] or ["- corpus files: none"]
    if real:
        lines += ["- source names (sorted, one JSON string per line):", "", NAMES_FENCE, *names, "```"]
    return lines


def render_body(facts: CardFacts) -> str:
    ops = ", ".join(sorted(facts.ops_used))
    outside = sorted(set(facts.ops_used) - OP_ALLOWLIST)
    lines = [
        f"# VMAF predictor: {facts.codec}",
        "",
        "## Purpose",
        "",
        f"Predicts the VMAF score (0-100) of a `{facts.codec}` encode from 14 probe features, so the",
        "encoder harness can pick encode settings without running VMAF.",
    ]
    if facts.stub:
        lines += [
            "",
            "**This model is a synthetic stub, not for production decisions.** It was fitted to an analytical",
            "per-codec curve, not to measured VMAF; it only keeps the harness runnable until a model trained",
            f"on a real corpus clears the {GATE_ADR} gate.",
        ]
    lines += [
        "",
        "## Training data",
        "",
        f"- corpus kind: `{facts.corpus_kind}`",
        f"- rows: {facts.n_rows}",
        f"- distinct sources: {facts.n_sources if facts.n_sources is not None else 'n/a (analytical sweep)'}",
    ]
    lines += [f"- file: {described}" for described in facts.data_files]
    lines += provenance_section(facts)
    lines += [
        "",
        "## Op allowlist",
        "",
        f"- ops used: {ops}",
        f"- allowlist: {', '.join(sorted(OP_ALLOWLIST))}",
        f"- status: {'OK, every op is allowlisted' if not outside else 'VIOLATION: ' + ', '.join(outside)}",
        "",
        "## Validation metrics",
        "",
        *facts.metrics_lines,
        "",
        "## Architecture",
        "",
        "MLP 14 -> 64 -> 64 -> 1, ReLU, output `100 * sigmoid`. Inside the graph the size-like inputs",
        f"({', '.join(LOG_INPUTS)}) become `log(max(x, 1))`, then every input is",
        "normalised by the training rows' mean/std. Trained with Adam on MSE and decoupled weight decay",
        f"(the weights shrink by exactly e^-{DEFAULT_PROFILE.shrink:g} over a run). With a live quality input,",
        f"rows below VMAF {DEFAULT_PROFILE.low_quality_below:g} count {DEFAULT_PROFILE.low_quality_weight:g} "
        "in the loss (the harness's targets are 80-95).",
        f"ONNX opset {OPSET}, one model per codec.",
        "",
        "## Inputs",
        "",
        "`input`: float32 `[N, 14]`, in this order:",
        "",
        "| # | name | when absent from a corpus row |",
        "|---|------|-------------------------------|",
    ]
    lines += [f"| {i} | `{name}` | {INPUT_NOTES.get(name, '0')} |" for i, name in enumerate(FEATURE_NAMES)]
    if facts.harness_lines:
        lines += ["", *facts.harness_lines]
    lines += [
        "",
        "## Output",
        "",
        "`vmaf`: float32 `[N, 1]`, predicted VMAF in [0, 100].",
        "",
        "## ONNX",
        "",
        f"- file: `predictor_{facts.codec}.onnx`",
        f"- sha256: `{facts.onnx_sha256}`",
        f"- size: {facts.onnx_bytes} bytes",
        "",
    ]
    return "\n".join(lines)


def ignored_inputs(w1: np.ndarray) -> list[str]:
    """Inputs whose every first-layer weight is exactly zero in the exported model (``w1`` [14, hidden])."""
    return [name for name, row in zip(FEATURE_NAMES, np.asarray(w1), strict=True) if not np.any(row)]


def probe_origin(counts: ProbeCounts, codec: str, probe_quality: float) -> str:
    """Where the training rows' probe inputs came from, in the words of the corpus.probe counts."""
    return (f"{counts.from_probe_preset} rows from the {PROBE_PRESET[codec]} ladder of their source, "
            f"{counts.from_ladder} from their own ladder at quality {probe_quality:g}, "
            f"{counts.explicit} explicit probe measurements, {counts.own_encode} their own encode's bitrate"
            + "".join(f"; {note}" for note in counts.frame_size_notes(PROBE_PRESET[codec])))


def harness_inputs_section(codec: str, probe_quality: float, w1: np.ndarray, origin: str) -> list[str]:
    """What the harness must feed: the probe the model was trained for and the inputs it reads.

    ``w1`` is the first layer of the weights being exported, so "ignored" is a fact of the shipped
    model (exactly zero weight: whatever the harness feeds there changes nothing), not a guess.
    """
    default = PROBE_QUALITY[codec]
    quality = (f"{probe_quality:g} (overridden with --probe-quality; harness default {default:g})"
               if probe_quality != default else f"{probe_quality:g} (the harness default for {codec})")
    ignored = ignored_inputs(w1)
    used = [name for name in FEATURE_NAMES if name not in ignored]
    return [
        "## Harness inputs",
        "",
        "The probe this model was trained for (the harness should probe-encode at this quality and preset)",
        "and the inputs it reads.",
        "",
        f"- probe quality: {quality}",
        f"- probe preset: {PROBE_PRESET[codec]}",
        f"- probe inputs in training: {origin}",
        f"- inputs used: {', '.join(used) or 'none'}",
        f"- inputs ignored (exactly zero first-layer weight; values fed there change nothing): "
        f"{', '.join(ignored) or 'none'}",
    ]


def _fold_line(result: CodecResult) -> str:
    return ", ".join(f"fold{f.fold_index}={f.plcc:.4f}" for f in result.folds) or "none"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def production_block(result: CodecResult, report_path: str, override: str | None = None) -> str:
    """``override``: why this model ships although it scored below the model it replaced (said on the card)."""
    return "\n".join([
        STATUS_BEGIN,
        f"## Status: Production ({GATE_ADR} gate cleared)",
        "",
        f"- LOSO mean PLCC: {_fmt(result.mean_plcc)} (>= {SHIP_GATE_MEAN_PLCC})",
        f"- PLCC spread: {_fmt(result.plcc_spread)} (<= {SHIP_GATE_PLCC_SPREAD_MAX})",
        f"- folds: {_fold_line(result)} (each >= {SHIP_GATE_PER_FOLD_MIN})",
        f"- rows: {result.n_rows_total}; sources: {result.n_distinct_sources}",
        *([f"- regression allowed: {override}"] if override else []),
        *floor_lines(result.harness_curve),
        f"- report: `{report_path}`",
        STATUS_END,
        "",
    ])


def proposed_block(result: CodecResult, report_path: str, extra_reasons: Sequence[str] = ()) -> str:
    reasons = [*result.failure_reasons, *extra_reasons] or [result.status]
    headline = result.status if result.status not in ("fail", "pass") else "; ".join(reasons)
    return "\n".join([
        STATUS_BEGIN,
        f"## Status: Proposed (gate-failed: {headline})",
        "",
        *(f"- reason: {reason}" for reason in reasons),
        f"- LOSO mean PLCC: {_fmt(result.mean_plcc)}; spread: {_fmt(result.plcc_spread)}; folds: {_fold_line(result)}",
        f"- rows: {result.n_rows_total}; sources: {result.n_distinct_sources}",
        *floor_lines(result.harness_curve),
        f"- report: `{report_path}`",
        f"- action: ship more training data or supersede {GATE_ADR}; never lower the threshold.",
        "  The shipped ONNX is unchanged.",
        STATUS_END,
        "",
    ])


def stub_block() -> str:
    return "\n".join([
        STATUS_BEGIN,
        "## Status: Proposed (gate-failed: no real-corpus run yet)",
        "",
        "- synthetic stub; no LOSO evaluation on a real corpus has been run for this codec.",
        f"- action: train on a real corpus; promotion needs the {GATE_ADR} gate.",
        STATUS_END,
        "",
    ])


def with_status(card_text: str, block: str) -> str:
    """The card with its status block replaced (or appended): exactly one block, rest untouched."""
    body = _STATUS_BLOCK.sub("", card_text)
    if not body.endswith("\n"):
        body += "\n"
    return body + block


def status_line(card_text: str) -> str | None:
    match = re.search(r"^## Status: .*$", card_text, re.M)
    return match.group(0) if match else None
