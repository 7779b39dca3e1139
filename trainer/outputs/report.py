"""report.json: the run's verdicts and provenance, strict JSON, written atomically."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

from trainer.core.atomic import atomic_write_text
from trainer.core.codecs import PROBE_PRESET, PROBE_QUALITY, QUALITY_RANGE, SUPPORTED_CODECS, probe_quality_of
from trainer.core.gate import gate_constants
from trainer.ingest.columns import REJECTION_REASONS
from trainer.ingest.corpus import Corpus
from trainer.ingest.probes import ProbeCounts
from trainer.learning.results import CodecResult

REPORT_SCHEMA_VERSION = 3  # 3: harness (probe quality, overrides), corpus.probe, codecs[]/folds[].crf_pick
PROVENANCE_SCHEMA = "predictor-run-provenance/1"


def utc_stamp(moment: datetime | None = None) -> str:
    """Compact UTC timestamp for file and folder names: 20261124T160512Z."""
    return (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def corpus_section(corpus: Corpus | None, roots: Iterable[str], discovered: int,
                   probe_quality: Mapping[str, float] | None = None) -> dict[str, object]:
    """What was read; ``probe_quality`` (the operator's overrides) decides where probes are derived."""
    rejections = corpus.rejections if corpus is not None else None
    return {
        "discovered_files": discovered,
        "roots": list(roots),
        "missing_roots": list(corpus.missing_roots) if corpus is not None else [],
        "unreadable_files": list(rejections.unreadable_files) if rejections else [],
        "rows_accepted": corpus.rows_accepted if corpus is not None else 0,
        "aggregated": {"frames": corpus.frames_aggregated if corpus is not None else 0,
                       "clips": corpus.clips if corpus is not None else 0},
        "rejected": {r: int(rejections.counts.get(r, 0)) for r in REJECTION_REASONS} if rejections else {},
        "rejected_examples": rejections.example_list() if rejections else [],
        "unknown_codecs": dict(sorted(rejections.unknown_codecs.items())) if rejections else {},
        "probe": (corpus.probe_counts(probe_quality) if corpus is not None else ProbeCounts()).as_report(),
    }


def harness_section(probe_quality: Mapping[str, float] | None = None) -> dict[str, object]:
    """What the models assume of the harness that loads them: where it probes and what it searches.

    ``probe_quality_overridden`` marks a codec whose models were trained for the operator's probe
    quality (``--probe-quality``), not the harness's default (kept in ``default_probe_quality``).
    """
    section: dict[str, object] = {}
    for codec in SUPPORTED_CODECS:
        quality = probe_quality_of(codec, probe_quality)
        section[codec] = {"probe_quality": quality, "probe_quality_overridden": quality != PROBE_QUALITY[codec],
                          "default_probe_quality": PROBE_QUALITY[codec], "probe_preset": PROBE_PRESET[codec],
                          "quality_range": list(QUALITY_RANGE[codec])}
    return section


class RunSummary(TypedDict):
    """The report's ``summary`` as a run computes it: the exit code and the verdict line are read from it."""

    n_pass: int
    n_fail: int
    n_insufficient: int
    n_missing_rows: int
    n_error: int
    interrupted: bool
    interrupted_by: str | None
    error: str | None


def summary_section(results: Iterable[CodecResult], interrupted_by: str | None = None,
                    error: str | None = None) -> RunSummary:
    """Verdict counts; ``interrupted_by`` names the signal that stopped the run, if one did, and
    ``error`` the unexpected error that ended it (one line; the traceback is in the run log)."""
    statuses = [r.status for r in results]
    return {
        "n_pass": statuses.count("pass"),
        "n_fail": statuses.count("fail"),
        "n_insufficient": statuses.count("insufficient-sources"),
        "n_missing_rows": statuses.count("missing-rows"),
        "n_error": statuses.count("error"),
        "interrupted": interrupted_by is not None,
        "interrupted_by": interrupted_by,
        "error": error,
    }


def build_report(
    *,
    results: dict[str, CodecResult],
    corpus: dict[str, object],
    synthetic_smoke: bool,
    provenance: dict[str, object],
    profile: dict[str, object],
    promotion: dict[str, object] | None = None,
    interrupted_by: str | None = None,
    error: str | None = None,
    probe_quality: Mapping[str, float] | None = None,
    recovered_promotion: dict[str, object] | None = None,
    in_progress: bool = False,
) -> dict[str, object]:
    """``recovered_promotion``: what this run found and repaired of an interrupted model-dir write;
    ``in_progress``: written at a verdict while the run still trains (codecs not yet judged are pending).

    Parameters
    ----------
    results : dict of str to CodecResult
        Each judged codec's result by codec name; ``codecs`` lists them in ``SUPPORTED_CODECS`` order.
    corpus : dict
        The ``corpus`` section: what was read and rejected (``corpus_section``).
    synthetic_smoke : bool
        A synthetic smoke run: diagnostic only, noted in the report; no codec can pass or be promoted.
    provenance : dict
        ``run_provenance`` beside its schema: entrypoint, argv, options, inputs, executor and outputs.
    profile : dict
        The training profile's settings, as the ``profile`` section.
    promotion : dict, optional
        What was written to the model directory; None: no ``promotion`` section.
    interrupted_by : str, optional
        The signal that stopped the run, if one did.
    error : str, optional
        The unexpected error that ended the run (one line).
    probe_quality : mapping of str to float, optional
        The operator's probe-quality overrides per codec (``--probe-quality``), for the ``harness`` section.
    recovered_promotion : dict, optional
        What this run found and repaired of an interrupted model-dir write.
    in_progress : bool
        Written at a verdict while other codecs still train.
    """
    ordered = [results[c] for c in SUPPORTED_CODECS if c in results]
    report: dict[str, object] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at_utc": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "synthetic_smoke": synthetic_smoke,
        "gate": gate_constants(),
        "harness": harness_section(probe_quality),
        "profile": profile,
        "corpus": corpus,
        "codecs": [r.as_report() for r in ordered],
        "summary": {**summary_section(ordered, interrupted_by, error), "recovered_promotion": recovered_promotion,
                    "in_progress": in_progress},
        "run_provenance": {"schema": PROVENANCE_SCHEMA, **provenance},
    }
    if synthetic_smoke:
        report["note"] = "synthetic smoke run: diagnostic only; no codec can pass or be promoted"
    if promotion is not None:
        report["promotion"] = promotion
    return report


def dumps_report(report: dict[str, object]) -> str:
    """Strict JSON: a NaN that slipped through raises here instead of reaching a reader."""
    return json.dumps(report, indent=2, allow_nan=False) + "\n"


def write_report(path: Path, report: dict[str, object]) -> None:
    atomic_write_text(path, dumps_report(report))
