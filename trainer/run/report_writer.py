"""The one report writer both faces use: report.json from a run's state, then the CI outputs.

The batch writes it once, however the run ends; the console writes it whenever a plan is applied
(or on request). Same assembly, so both carry the same keys, provenance included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trainer.core.atomic import OutputUnwritable, atomic_write_text
from trainer.executors.dask_cluster import ExecutorInfo
from trainer.ingest.corpus import Corpus
from trainer.learning.results import CodecResult
from trainer.outputs.junit import junit_xml
from trainer.outputs.report import build_report, corpus_section, write_report
from trainer.outputs.summary_md import summary_markdown
from trainer.run.config import RunConfig
from trainer.run.runlog import RunLog


@dataclass
class ReportInputs:
    """What a run has got to, whatever ends it: the report is written from this."""

    results: Mapping[str, CodecResult]
    corpus: Corpus | None
    present_roots: Sequence[str]
    n_files: int
    executor: ExecutorInfo
    log_path: Path | None
    promotion: dict[str, object]
    written: list[str] = field(default_factory=list)
    interrupted_by: str | None = None
    error: str | None = None
    recovered: dict[str, object] | None = None
    in_progress: bool = False  # written at a verdict while other codecs still train (summary.in_progress)


def assemble_report(config: RunConfig, entrypoint: str, state: ReportInputs) -> dict[str, object]:
    """report.json's content: verdicts, corpus, provenance (options, inputs, executor, outputs), promotion."""
    corpus = state.corpus
    return build_report(
        results=dict(state.results),
        corpus=corpus_section(corpus, list(state.present_roots), state.n_files, config.probe_quality),
        synthetic_smoke=config.synthetic_smoke,
        profile=config.profile.as_dict(),
        provenance={
            "entrypoint": entrypoint,
            "argv": config.argv,
            "args": config.as_dict(),
            "inputs": [vars(i) for i in (corpus.inputs if corpus else [])],
            "executor": state.executor,
            "outputs": [str(config.report_path), str(state.log_path), *state.written],
        },
        promotion=state.promotion,
        interrupted_by=state.interrupted_by,
        error=state.error,
        probe_quality=config.probe_quality,
        recovered_promotion=state.recovered,
        in_progress=state.in_progress,
    )


def write_run_report(path: Path, report: dict[str, object]) -> None:
    """Atomically; a full disk or a read-only directory is OutputUnwritable (exit 2), one line."""
    try:
        write_report(path, report)
    except OSError as exc:
        raise OutputUnwritable(f"cannot write report {path}: {exc.strerror or exc}") from None


def write_ci_outputs(config: RunConfig, report: dict[str, object], log: RunLog) -> None:
    """JUnit XML and the Markdown summary, from the report just written (same numbers, one source)."""
    step_summary = config.step_summary
    markdown = summary_markdown(report) if config.summary_md is not None or step_summary else ""
    outputs = []
    if config.junit_xml is not None:
        outputs.append((config.junit_xml, junit_xml(report), "JUnit XML"))
    if config.summary_md is not None:
        outputs.append((config.summary_md, markdown, "summary"))
    for path, text, what in outputs:
        try:
            atomic_write_text(path, text)
        except OSError as exc:
            raise OutputUnwritable(f"cannot write {what} {path}: {exc.strerror or exc}") from None
        log.line(f"{what}: {path}")
    if step_summary:
        try:
            with open(step_summary, "a", encoding="utf-8") as handle:  # GitHub's contract: append
                handle.write(markdown)
        except OSError as exc:
            raise OutputUnwritable(f"cannot append to GITHUB_STEP_SUMMARY {step_summary}: "
                                   f"{exc.strerror or exc}") from None
        log.line(f"summary appended to GITHUB_STEP_SUMMARY ({step_summary})")
