"""Promotion planning: turn verdicts into a reviewed plan of file changes (pure data).

Only a passing codec's ONNX is ever replaced, and only after the new model passed every
contract check. The batch prints a plan, the console shows it in a confirmation dialog, and the
report records it; ``apply`` carries it out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from trainer.core.codecs import PROBE_QUALITY, SUPPORTED_CODECS
from trainer.core.sections import entries, strings
from trainer.ingest.corpus import CodecData
from trainer.learning.results import CodecResult, FinalModel
from trainer.learning.selection import describe_choice
from trainer.shipping.artifacts import calibration_path, card_path, model_path, sha256_bytes, sha256_file
from trainer.shipping.calibration_card import calibration_block, with_calibration
from trainer.shipping.cards import (
    CardFacts,
    harness_inputs_section,
    probe_origin,
    production_block,
    proposed_block,
    render_body,
    with_status,
)
from trainer.shipping.harness_command import command_note, predict_command
from trainer.shipping.incumbent import WORSE, regression
from trainer.shipping.monotone import monotone_violations
from trainer.shipping.onnx_export import build_onnx, graph_ops, validate_onnx
from trainer.shipping.sidecar import check_sidecar, sidecar_bytes

if TYPE_CHECKING:
    from trainer.learning.model import MLPWeights  # torch: only the processes that train import it


@dataclass(frozen=True)
class PlannedChange:
    codec: str
    path: str
    action: str  # replace-model | rewrite-card | patch-card-status | write-calibration | remove-calibration
    old_sha256: str | None
    new_sha256: str | None  # None: the change removes the file
    reason: str
    content: bytes | None = field(repr=False, compare=False)  # None: remove

    def as_report(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in ("codec", "path", "action", "old_sha256", "new_sha256", "reason")}


@dataclass
class PromotionPlan:
    changes: list[PlannedChange] = field(default_factory=list)
    blocked: dict[str, list[str]] = field(default_factory=dict)
    # Codecs blocked only because they score below the shipped model; an operator may override that
    # (--allow-regression, or the console's second confirmation). codec -> the worse-than-incumbent reason.
    regressions: dict[str, str] = field(default_factory=dict)
    # codec -> what the operator should read before writing: the harness-curve warning and the predict command for
    # the model the codec leaves in the model directory (shown with the plan, in the batch and the console).
    notes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def promoted_codecs(self) -> list[str]:
        return [c.codec for c in self.changes if c.action == "replace-model"]

    def as_report(self) -> dict[str, object]:
        return {"planned": [c.as_report() for c in self.changes], "blocked": dict(self.blocked)}

    def describe(self) -> list[str]:
        notes = [f"  {codec}: {note}" for codec, notes in self.notes.items() for note in notes]
        if not self.changes and not self.blocked:
            return ["promotion plan: no model-dir changes (everything already up to date)", *notes]
        lines = [f"promotion plan: {len(self.changes)} file change(s)"]
        for c in self.changes:
            old = (c.old_sha256 or "(new file)")[:12]
            new = (c.new_sha256 or "(removed)")[:12]
            lines.append(f"  {c.action:<18} {c.path}  {old} -> {new}  ({c.reason})")
        for codec, reasons in self.blocked.items():
            lines.append(f"  BLOCKED {codec}: {'; '.join(reasons)}")
        return lines + notes


def _change(codec: str, path: Path, action: str, content: bytes | None, reason: str) -> PlannedChange | None:
    old = sha256_file(path)
    new = None if content is None else sha256_bytes(content)
    if old == new:
        return None  # already so: applying twice changes nothing
    return PlannedChange(codec, str(path), action, old, new, reason, content)


def describe_input(entry: dict[str, object]) -> str:
    """A corpus file as a committed card names it: file name, size, rows, sha256 — never the
    absolute path of the machine that trained (two operators promoting one corpus get one card)."""
    path = Path(str(entry["path"]))
    # As it was read for training (batch: the whole file; console: up to the last line parsed),
    # never re-hashed now: the file may have grown since the verdict.
    size, digest = entry.get("bytes", "?"), entry.get("sha256", "not recorded")
    return f"`{path.name}` ({size} bytes, {entry['rows']} rows, sha256 `{digest}`)"


def model_choice_line(choice: dict[str, object] | None) -> str:
    """The card's record of which candidate the shipped model is (README "Model choice by nested LOSO")."""
    if not choice:
        return "- model: the network (one candidate on this corpus: no nested model choice)"
    return f"- model: {describe_choice(choice)} (outer folds)"


def _production_card(codec: str, onnx_bytes: bytes, final: MLPWeights, data: CodecData, result: CodecResult,
                     report: str, override: str | None) -> str:
    quality = PROBE_QUALITY[codec] if data.probe_quality is None else data.probe_quality
    folds = ", ".join(
        f"fold{f.fold_index} PLCC {f.plcc:.4f} SROCC {f.srocc:.4f} RMSE {f.rmse:.2f}" for f in result.folds
    )
    facts = CardFacts(
        codec=codec,
        corpus_kind=f"real-N={data.n_rows}",
        n_rows=data.n_rows,
        n_sources=data.n_sources,
        data_files=[describe_input(entry) for entry in data.provenance],
        metrics_lines=[
            f"5-fold leave-one-source-out, seeded; the shipped model is then retrained on all {data.n_rows} rows.",
            f"- mean PLCC {result.mean_plcc:.4f}, spread {result.plcc_spread:.4f}",
            f"- {folds}",
            model_choice_line(result.model_choice()),
        ],
        ops_used=graph_ops(onnx_bytes),
        onnx_sha256=sha256_bytes(onnx_bytes),
        onnx_bytes=len(onnx_bytes),
        stub=False,
        trained_sources=sorted(set(data.sources.tolist())),
        harness_lines=harness_inputs_section(codec, quality, final.w1[0], probe_origin(data.probe, codec, quality)),
    )
    card = with_status(render_body(facts), production_block(result, report, override))
    return with_calibration(card, _block(codec, facts.onnx_sha256, result.calibration, data, result.harness_curve))


def plan_promotion(
    results: Mapping[str, CodecResult],
    finals: Mapping[str, FinalModel],
    datas: Mapping[str, CodecData],
    model_dir: Path,
    report_path: str,
    allow_regression: Collection[str] = (),
    override_by: str = "--allow-regression",
) -> PromotionPlan:
    """What a promotion would write for each judged codec, or why it may not (nothing is written here).

    Parameters
    ----------
    results : mapping of str to CodecResult
        The verdict of each codec in the run.
    finals : mapping of str to FinalModel
        The full-corpus retrain of each passing codec (the weights that would ship).
    datas : mapping of str to CodecData
        Each codec's training table: generated rows block a promotion; the features check the ONNX.
    model_dir : Path
        The model directory whose files the plan would replace.
    report_path : str
        The run's report, named on the card by its file name only (cards are committed).
    allow_regression : collection of str
        Codecs that may replace a shipped model that scores better on the same rows.
    override_by : str
        Who allowed those regressions, as the card says it.
    """
    plan = PromotionPlan()
    report_name = Path(report_path).name  # cards are committed: no machine's directories in them
    for codec in sorted(results, key=SUPPORTED_CODECS.index):
        result = results[codec]
        card = card_path(model_dir, codec)
        blocked: list[str] = []
        if result.status == "pass":
            final = finals.get(codec)
            if datas[codec].n_generated:
                blocked.append(f"{datas[codec].n_generated} training rows are generated (\"synthetic\": true); "
                               "only a real corpus may replace a shipped model")
            elif final is None or final.weights is None:
                blocked.append(f"full-corpus retrain failed: {final.error if final else 'not run'}")
            else:
                onnx_bytes = build_onnx(final.weights, codec)
                blocked = validate_onnx(onnx_bytes, final.weights, datas[codec].features)
                blocked += monotone_violations(onnx_bytes, datas[codec].features, codec)
                worse = None if blocked else _regression(result, model_path(model_dir, codec), onnx_bytes)
                overridable = worse is not None and worse.startswith(WORSE)
                if worse and not (overridable and codec in allow_regression):
                    blocked.append(worse)
                    if overridable:
                        plan.regressions[codec] = worse
                if not blocked:
                    override = f"{worse} -- promoted anyway: {override_by}" if worse else None
                    card_text = _production_card(codec, onnx_bytes, final.weights, datas[codec], result,
                                                 report_name, override)
                    why = f"gate cleared, mean PLCC {result.mean_plcc:.4f}" + (f"; {override_by}" if worse else "")
                    for change in (
                        _change(codec, model_path(model_dir, codec), "replace-model", onnx_bytes, why),
                        _change(codec, card, "rewrite-card", card_text.encode(), "Status: Production"),
                        _sidecar_change(codec, model_dir, sha256_bytes(onnx_bytes), result.calibration,
                                        datas[codec]),
                    ):
                        if change is not None:
                            plan.changes.append(change)
                    continue
            plan.blocked[codec] = blocked
        if not card.exists():
            plan.blocked.setdefault(codec, []).append(
                f"no card at {card}; run 'python -m trainer --write-stubs' to ship the stub first"
            )
            continue
        text = with_status(card.read_text(encoding="utf-8"),
                           proposed_block(result, report_name, [f"promotion blocked: {b}" for b in blocked]))
        shipped_sha = sha256_file(model_path(model_dir, codec))
        kept = _kept_calibration(result, shipped_sha)
        data = datas.get(codec)
        if kept is not None and shipped_sha is not None and data is not None and not data.n_generated:
            text = with_calibration(text, _block(codec, shipped_sha, kept, data, result.harness_curve))
        why = "promotion blocked" if blocked else result.status
        for change in (
            _change(codec, card, "patch-card-status", text.encode(), f"Status: Proposed ({why})"),
            _sidecar_change(codec, model_dir, shipped_sha, kept, data),
        ):
            if change is not None:
                plan.changes.append(change)
    plan.notes = harness_notes(results, model_dir, plan.promoted_codecs)
    return plan


def harness_notes(results: Mapping[str, CodecResult], model_dir: Path,
                  promoted: Collection[str]) -> dict[str, list[str]]:
    """Per judged codec: the floor's warnings, and ``vmaf-tune predict`` for the model it leaves in ``model_dir``
    with that model's calibrated offset for alpha 0.10 added to the target."""
    notes: dict[str, list[str]] = {}
    for codec in sorted(results, key=SUPPORTED_CODECS.index):
        result = results[codec]
        if not result.folds:
            continue
        warnings = [f"WARNING: {w}" for w in strings(result.harness_curve, "floor", "warnings")]
        calibration = (result.calibration if codec in promoted
                       else _kept_calibration(result, sha256_file(model_path(model_dir, codec))))
        which = "this run's model" if codec in promoted else "the kept model"
        notes[codec] = [*warnings, f"harness, {which} ({command_note(calibration)}): "
                                   f"{predict_command(codec, calibration, str(model_dir))}"]
    return notes


def _kept_calibration(result: CodecResult, shipped_sha: str | None) -> Mapping[str, object] | None:
    """The kept model's calibration, when it was made for the very file that ships now."""
    incumbent = result.incumbent or {}
    calibration = incumbent.get("calibration")
    if (shipped_sha is None or not incumbent.get("comparable") or incumbent.get("sha256") != shipped_sha
            or not isinstance(calibration, Mapping) or calibration.get("status") != "ok"):
        return None
    return calibration


def _block(codec: str, model_sha: str, calibration: Mapping[str, object] | None, data: CodecData,
           harness_curve: Mapping[str, object] | None = None) -> str | None:
    if calibration is None or calibration.get("status") != "ok" or data.n_generated:
        return None
    return calibration_block(codec, model_sha, calibration, calibration_path(Path("."), codec).name,
                             [describe_input(entry) for entry in data.provenance], harness_curve)


def _sidecar_change(codec: str, model_dir: Path, model_sha: str | None, calibration: Mapping[str, object] | None,
                    data: CodecData | None) -> PlannedChange | None:
    """Write the sidecar of the model that will ship, or remove one that no longer describes it.

    Generated rows never calibrate a shipped model; a sidecar naming another model (or unreadable)
    would be trusted by the harness, so it goes.
    """
    path = calibration_path(model_dir, codec)
    if model_sha is None or data is None or data.n_generated:
        return None
    if calibration is not None and calibration.get("status") == "ok":
        margin = next(row["margin_vmaf"] for row in entries(calibration, "interval_table") if row["alpha"] == 0.05)
        return _change(codec, path, "write-calibration", sidecar_bytes(codec, model_sha, calibration),
                       f"{calibration['method']} margin +-{margin:.2f} VMAF at alpha 0.05 for {model_sha[:12]}")
    stale = check_sidecar(path, model_sha)
    if stale.status in ("other-model", "unreadable"):
        return _change(codec, path, "remove-calibration", None, f"stale sidecar: {stale.detail}")
    return None


def _regression(result: CodecResult, shipped: Path, onnx_bytes: bytes) -> str | None:
    """Why this passing model is worse than the one it would replace, or None.

    A comparison made against another file than the one shipped now says nothing about it: unless
    the new model is already that file (nothing to replace), the codec must be trained again.
    """
    current = sha256_file(shipped)
    compared = (result.incumbent or {}).get("sha256")
    if current == sha256_bytes(onnx_bytes):
        return None  # this very model already ships
    if current is None or compared in (None, current):
        return regression(result.incumbent)
    return (f"incumbent-changed: {shipped.name} was replaced since this codec was compared with it "
            f"({str(compared)[:12]} -> {current[:12]}); train it again to compare with the model shipped now")
