"""Human-readable lines for events and verdicts, shared by the batch output, the log and the console."""

from __future__ import annotations

import signal
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from trainer.core.codecs import PROBE_PRESET, PROBE_QUALITY
from trainer.core.display import clip, clip_path
from trainer.core.sections import number, section, strings
from trainer.ingest.corpus import CodecData, Corpus
from trainer.ingest.discovery import CorpusInputs
from trainer.learning.crf_pick import PickSummary
from trainer.learning.events import (
    CodecCancelled,
    CodecFinished,
    CodecQueued,
    EngineError,
    Event,
    FinalModelDone,
    FoldFinished,
    PoolReplaced,
    TaskRetried,
    WorkerDied,
)
from trainer.learning.results import CodecResult, FoldResult
from trainer.learning.selection import describe_choice
from trainer.outputs.calibration_text import calibration_line
from trainer.outputs.report import RunSummary

NAMES_SHOWN = 8
HARNESS_PROBE_LABEL = "crf pick with the harness's own probe"
ZERO_KBPS_LABEL = "crf pick with the harness's probe at 0 kbps (as the published harness sends it)"


def fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def describe_event(event: Event) -> str:
    if isinstance(event, CodecQueued):
        queued = f"{event.codec}: queued, {event.n_rows} rows from {event.n_sources} sources, {event.n_folds} folds"
        notes = codec_notes(event.data, event.trained_rows) if event.data is not None else ()
        return "\n    ".join([queued, *notes])
    if isinstance(event, FoldFinished):
        f = event.result
        return (
            f"{f.codec} fold {f.fold_index} ({event.folds_done}/{event.folds_total}): PLCC {fmt(f.plcc)} "
            f"SROCC {fmt(f.srocc)} RMSE {fmt(f.rmse, 2)} (linear baseline PLCC {fmt(f.baseline_plcc)} "
            f"RMSE {fmt(f.baseline_rmse, 2)}) n_train={f.n_train} n_val={f.n_val} "
            f"held-out: {name_list(f.held_out_sources)}" + describe_crf_pick(f.crf_pick, "; ")
            + describe_crf_pick(f.crf_pick_harness_probe, "; ", HARNESS_PROBE_LABEL)
            + _fold_choice(f)
        )
    if isinstance(event, CodecFinished):
        r = event.result
        text = f"{r.codec}: {r.status.upper()} mean PLCC {fmt(r.mean_plcc)} spread {fmt(r.plcc_spread)}"
        baseline = r.baseline_report()
        if baseline is not None:
            text += f" (linear baseline mean PLCC {fmt(number(baseline['mean_plcc']))})"
        text += describe_crf_pick(r.crf_pick(), "\n    ")
        text += describe_crf_pick(r.crf_pick_harness_probe(), "\n    ", HARNESS_PROBE_LABEL)
        text += describe_crf_pick(r.crf_pick_harness_probe_0kbps(), "\n    ", ZERO_KBPS_LABEL)
        text += "".join(f"\n    {line}" for line in describe_harness_curve(r.harness_curve))
        if (choice := r.model_choice()) is not None:
            text += f"\n    model: {describe_choice(choice)} (outer folds)"
        if r.incumbent is not None:
            text += f"\n    {describe_incumbent(r.incumbent)}"
        if (calibration := calibration_line(r.calibration, r.incumbent)) is not None:
            text += f"\n    {calibration}"
        return "\n".join([text, *(f"    {reason}" for reason in r.failure_reasons)])
    if isinstance(event, CodecCancelled):
        return f"{event.codec}: cancelled"
    if isinstance(event, TaskRetried):
        return f"{event.codec}: retrying ({event.reason})"
    if isinstance(event, FinalModelDone):
        if event.error is None:
            return f"{event.codec}: full-corpus model trained on {event.n_rows} rows"
        return f"{event.codec}: full-corpus retrain failed: {event.error}"
    if isinstance(event, WorkerDied):
        return f"worker process {event.pid} died ({signal_name(event.exit_code)}) while running {event.codec}'s task"
    if isinstance(event, PoolReplaced):
        return (f"worker pool broke; starting a fresh pool: {event.n_lost} task(s) lost "
                f"({', '.join(event.lost_codecs) or 'none'}), {event.n_again} run again")
    if isinstance(event, EngineError):
        return f"engine error (serving continues): {event.error}"
    return repr(event)


def signal_name(exit_code: int) -> str:
    """A dead process's exit code as people read it: the signal's name (SIGKILL), else the code."""
    try:
        return signal.Signals(-exit_code).name
    except ValueError:
        return f"exit code {exit_code}"


def _fold_choice(result: FoldResult) -> str:
    """The fold's nested model choice (what its inner folds said), empty when no choice ran."""
    if result.model_choice is None:
        return ""
    return f"; model: {describe_choice(result.model_choice.as_report())} (inner folds)"


def describe_crf_pick(pick: PickSummary | None, lead: str, label: str = "crf pick") -> str:
    """How the model picks quality as the harness uses it; empty without quality ladders."""
    if not pick:
        return ""
    overspend, miss_rate = pick.get("mean_bitrate_overspend_pct"), pick["miss_rate"]
    misses = "-" if miss_rate is None else f"{100 * float(miss_rate):.0f}%"  # None: no fold had one (never with picks)
    return (f"{lead}{label}: off by {fmt(pick['mean_abs_quality_error'], 2)} steps, "
            f"VMAF off by {fmt(pick['mean_abs_vmaf_error'], 2)}, misses {misses} "
            f"(> 1 VMAF below target), bitrate {'-' if overspend is None else f'{float(overspend):+.1f}%'} "
            f"vs the oracle, {pick['n']} picks")


def describe_harness_curve(harness_curve: Mapping[str, object] | None) -> list[str]:
    """The harness's own curve on the same picks, then the floor's warnings (the batch line and the log)."""
    if not isinstance(harness_curve, Mapping):
        return []
    rows = (("crf_pick", "corpus probe inputs"), ("crf_pick_harness_probe", "its probe as measured"),
            ("crf_pick_harness_probe_0kbps", "its probe at 0 kbps, as published"))
    parts = [f"{label} {_short_pick(harness_curve.get(key))}" for key, label in rows if harness_curve.get(key)]
    return [f"harness curve (no model): {'; '.join(parts)}",
            *(f"WARNING: {w}" for w in strings(harness_curve, "floor", "warnings"))]


def _short_pick(pick: object) -> str:
    if not isinstance(pick, Mapping):
        return "-"
    overspend = pick.get("mean_bitrate_overspend_pct")
    return (f"off {float(pick['mean_abs_quality_error']):.2f} steps, misses {100 * float(pick['miss_rate']):.0f}%, "
            f"bitrate {'-' if overspend is None else f'{float(overspend):+.1f}%'}")


def describe_incumbent(incumbent: Mapping[str, object] | None) -> str:
    """One line: the shipped model vs this one on the rows the shipped model never saw."""
    if not incumbent:
        return "vs shipped: not compared"
    if not incumbent.get("comparable"):
        return f"vs shipped: not comparable ({clip(str(incumbent.get('reason')), 160)})"
    mine = section(incumbent, "challenger")

    def side(scores: Mapping[str, Any]) -> str:
        pick = section(scores, "crf_pick")
        steps = pick.get("mean_abs_quality_error")
        return (f"PLCC {fmt(scores.get('plcc'))} RMSE {fmt(scores.get('rmse'), 2)}"
                + ("" if steps is None else f" crf pick off {fmt(steps, 2)}"))

    return (f"vs shipped {incumbent['kind']} {str(incumbent['sha256'])[:12]} on {incumbent['n_rows']} rows from "
            f"{incumbent['n_sources']} unseen sources: this model {side(mine)}; shipped {side(incumbent)}")


def name_list(names: Sequence[str], shown: int = NAMES_SHOWN) -> str:
    """Corpus-supplied names for a person: each cut to a sane length, at most ``shown`` of them."""
    text = ", ".join(clip(name) for name in names[:shown])
    return text + (f" (+{len(names) - shown} more)" if len(names) > shown else "")


def summary_table(results: Iterable[CodecResult]) -> list[str]:
    lines = [f"{'codec':<12} {'STATUS':<21} {'mean_plcc':>9} {'spread':>7} {'rows':>7} {'srcs':>5}"]
    for r in results:
        lines.append(
            f"{r.codec:<12} {r.status.upper():<21} {fmt(r.mean_plcc):>9} {fmt(r.plcc_spread):>7} "
            f"{r.n_rows_total:>7} {r.n_distinct_sources:>5}"
        )
        lines.extend(f"    {reason}" for reason in r.failure_reasons)
        lines.extend(f"    WARNING: {w}" for w in strings(r.harness_curve, "floor", "warnings"))
    return lines


def verdict_line(summary: RunSummary, exit_code: int) -> str:
    return (
        f"verdict: {summary['n_pass']} pass, {summary['n_fail']} fail, "
        f"{summary['n_insufficient']} insufficient-sources, {summary['n_missing_rows']} missing-rows, "
        f"{summary['n_error']} error -> exit {exit_code}"
    )


def describe_probe_overrides(probe_quality: Mapping[str, float]) -> list[str]:
    """One log line per codec trained for another probe quality than the harness's default."""
    return [f"probe quality {codec}={quality:g} (--probe-quality; harness default {PROBE_QUALITY[codec]:g}): "
            f"its models assume the harness probes at {quality:g}" for codec, quality in probe_quality.items()
            if quality != PROBE_QUALITY[codec]]


def probe_assumed(codec: str, harness: Mapping[str, object]) -> str:
    """The probe a codec's models assume, as report.json's ``harness`` records it; "" when absent."""
    probe = harness.get(codec)
    if not isinstance(probe, Mapping):
        return ""
    text = f"quality {probe['probe_quality']:g}"
    if probe.get("probe_quality_overridden"):
        text += f" (overridden; harness default {probe['default_probe_quality']:g})"
    return f"{text}, preset {probe['probe_preset']}"


def describe_corpus(inputs: CorpusInputs, corpus: Corpus) -> list[str]:
    """What a run read: roots, accepted rows, rejected rows with examples."""
    lines = [f"corpus root: {clip_path(root)}" for root in inputs.present_roots]
    lines += [f"corpus root missing, skipped: {clip_path(root)}" for root in inputs.missing_roots]
    rejected = corpus.rejections
    lines.append(f"corpus: {len(inputs.files)} files, {corpus.rows_accepted} rows accepted, {rejected.total} rejected")
    if corpus.frames_aggregated:
        lines.append(f"    per-frame rows: {corpus.frames_aggregated} frames aggregated into {corpus.clips} clips")
    lines += [f"    rejected {reason}: {count}" for reason, count in sorted(rejected.counts.items())]
    lines += [f"    e.g. {example}" for example in rejected.example_list()]
    unknown = sorted(rejected.unknown_codecs.items())
    lines += [f"    unknown codec {clip(name)!r}: {count} rows" for name, count in unknown]
    return lines + [f"    unreadable file: {clip(problem, 160)}" for problem in rejected.unreadable_files]


def codec_notes(data: CodecData, trained_rows: np.ndarray | None = None) -> tuple[str, ...]:
    """What the log says of a codec's inputs when it is queued: from its own table, so no extra pass over the corpus.
    ``trained_rows``: a mixed table's rows that state a quality (learning.planning.fold_plan), the only ones trained
    on."""
    notes = data.probe.frame_size_notes(PROBE_PRESET[data.codec])
    if trained_rows is not None:
        notes.append(mixed_table_note(data.sources, trained_rows))
    return tuple(notes if data.harness is None else [*notes, data.harness.describe(data.sources)])


def mixed_table_note(sources: np.ndarray, stated: np.ndarray) -> str:
    """A mixed table in words: what trains the model the harness picks with, and what is only judged."""
    trained, judged = np.unique(sources[stated]).size, np.unique(sources[~stated]).size
    return (f"mixed table: the model trains and is chosen on the {int(stated.sum())} rows of {trained} sources "
            f"that state a quality; the other {int((~stated).sum())} rows ({judged} sources, no quality to pick "
            "on) are held out and judged in their folds, never trained on (docs/models.md \"Mixed tables\")")
