"""Headless batch: load once, train every selected codec, gate, report, log, exit code.

Exit codes: 0 iff every selected codec passes; 1 if any does not; 2 for usage, configuration
or environment errors (ConfigError, OutputUnwritable, ModelDirLocked, PromotionError); 128 + N
when signal N (SIGINT, SIGTERM, SIGHUP) stopped the run; 70 (EX_SOFTWARE) for an internal error.
However a run ends, once training has begun report.json is written (``_finish`` runs in a finally).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from trainer.core.atomic import OutputUnwritable, atomic_write_text, require_writable_dir
from trainer.core.codecs import probe_quality_of
from trainer.executors.dask_cluster import (
    Cluster,
    ClusterUnavailable,
    cluster_capacity,
    connect,
    describe_executor,
)
from trainer.executors.dask_executor import DaskExecutor
from trainer.executors.host import ExecutorFactory
from trainer.executors.process_pool import process_pool_factory, start_pool_helpers
from trainer.ingest.corpus import CodecData, Corpus, load_corpus
from trainer.ingest.discovery import CorpusInputs, find_inputs
from trainer.ingest.synthetic import synthetic_codec_data
from trainer.learning.events import Event
from trainer.learning.results import CodecResult, error_result
from trainer.outputs.describe import (
    describe_corpus,
    describe_event,
    describe_probe_overrides,
    summary_table,
    verdict_line,
)
from trainer.outputs.junit import junit_xml
from trainer.outputs.report import build_report, corpus_section, summary_section, utc_stamp, write_report
from trainer.outputs.summary_md import summary_markdown
from trainer.run.advise import advise_failing
from trainer.run.config import ConfigError, RunConfig
from trainer.run.engine import TrainingEngine
from trainer.run.runlog import RunLog
from trainer.run.shutdown import StopRequest, stop_on_signals
from trainer.shipping.apply import apply_plan
from trainer.shipping.incumbent import incumbent_judge
from trainer.shipping.journal import describe_recovery, recover_model_dir
from trainer.shipping.lock import ModelDirLocked, PromotionError, model_dir_lock
from trainer.shipping.plan import PromotionPlan, plan_promotion
from trainer.shipping.restore import restore_backup

SMOKE_SOURCES, SMOKE_ROWS_PER_SOURCE, SMOKE_NOISE = 8, 40, 1.0
# 70 is EX_SOFTWARE (sysexits.h): an internal error, never confused with a failed gate (1).
EXIT_OK, EXIT_NOT_ALL_PASS, EXIT_CONFIG, EXIT_INTERNAL = 0, 1, 2, 70


def codec_loaders(config: RunConfig, inputs: CorpusInputs, corpus: Corpus | None) -> dict[str, Callable[[], CodecData]]:
    """How each codec's table is obtained: generated, re-read (reference parity) or sliced."""
    loaders: dict[str, Callable[[], CodecData]] = {}
    for codec in config.codecs:
        quality = probe_quality_of(codec, config.probe_quality)  # the operator's --probe-quality, else the harness's
        if config.synthetic_smoke:
            loaders[codec] = lambda c=codec, q=quality: synthetic_codec_data(
                c, SMOKE_SOURCES, SMOKE_ROWS_PER_SOURCE, SMOKE_NOISE, config.seed, probe_quality=q
            )
        elif config.profile.reread_corpus_per_codec:
            loaders[codec] = lambda c=codec, q=quality: load_corpus(
                inputs.files, probe_measurements=config.probe_measurements).for_codec(c, q)
        else:
            assert corpus is not None
            loaders[codec] = lambda c=codec, q=quality: corpus.for_codec(c, q)
    if config.harness_probes is not None and not config.synthetic_smoke:
        probes = config.harness_probes
        return {codec: (lambda load=load: load().with_harness_probes(probes)) for codec, load in loaders.items()}
    return loaders


def promote(
    config: RunConfig, engine: TrainingEngine, loaders: dict[str, Callable[[], CodecData]], log: RunLog, stamp: str,
    stop: StopRequest,
) -> tuple[dict[str, object], list[str]]:
    """Retrain passing codecs on everything, plan the model-dir changes, apply them with --yes.

    A stop signal before the apply (during training, the retrains or the planning) skips it:
    nothing is written. One during the apply is only recorded, so the apply completes (or, on a
    write error, rolls back) before the batch stops.
    """
    results = {c: engine.results[c] for c in config.codecs}
    passing = [c for c, r in results.items() if r.status == "pass"]
    # Every judged codec's table (a kept model's sidecar and card name its corpus); passing ones re-read, as retrained.
    judged = {codec: data for codec, (_result, data) in engine.results.judged().items() if data is not None}
    datas = {**judged, **{codec: loaders[codec]() for codec in passing}}
    retrains = {codec: engine.train_final(datas[codec]) for codec in passing if not datas[codec].n_generated}
    engine.run_until_idle(lambda: stop.requested)
    if stop.requested:
        log.line(f"{stop.reason} before the promotion plan was applied: nothing written to the model directory")
        return {"skipped": f"{stop.reason} before the plan was applied; nothing was written"}, []
    finals = {codec: future.result() for codec, future in retrains.items() if future.done()}
    plan: PromotionPlan = plan_promotion(results, finals, datas, config.model_dir, str(config.report_path),
                                         allow_regression=config.codecs if config.allow_regression else ())
    for line in plan.describe():
        log.line(line)
    section: dict[str, object] = {**plan.as_report(), "applied": [], "backup": None}
    if plan.changes and config.yes and stop.requested:  # it arrived while the plan was being built
        log.line(f"{stop.reason} before the promotion plan was applied: nothing written to the model directory")
        return {**section, "skipped": f"{stop.reason} before the plan was applied; nothing was written"}, []
    if plan.changes and config.yes:
        try:
            section.update(apply_plan(plan, config.model_dir, config.out_dir / "backup", stamp))
        except (ModelDirLocked, PromotionError) as exc:
            section["error"] = str(exc)
            log.line(f"promotion not applied: {exc}")
            print(f"error: promotion not applied: {exc}", file=sys.stderr)
            return section, []
        log.line(f"applied {len(plan.changes)} change(s); previous files in {section['backup']}")
        log.line(f"roll back with: --restore {section['backup_stamp']}")
        if stop.requested:
            section["interrupted"] = f"{stop.reason} while applying: the apply completed first"
            log.line(f"{stop.reason} while the plan was being applied: it completed before stopping")
        return section, [c.path for c in plan.changes]
    if plan.changes:
        log.line("nothing written to the model directory: review the plan, then re-run with --yes to apply it")
    return section, []


def run_restore(config: RunConfig, out: TextIO) -> int:
    assert config.restore is not None
    restored = restore_backup(config.out_dir / "backup", config.restore, config.model_dir, utc_stamp())
    for line in restored:
        print(line, file=out)
    return EXIT_OK


def run_batch(config: RunConfig, entrypoint: str, out: TextIO | None = None) -> int:
    """One batch run. Raises ConfigError, OutputUnwritable, ModelDirLocked or PromotionError for exit 2."""
    out = out or sys.stdout
    if config.restore or config.write_stubs or config.yes:
        require_writable_dir(config.model_dir, "model directory")  # before any training, not after
    recovered = recover_model_dir(config.model_dir)  # a set a killed run left half-written: first of all
    if recovered is not None:
        print(f"{entrypoint}: {describe_recovery(recovered)}", file=sys.stderr)
    if config.restore:
        return run_restore(config, out)
    if config.write_stubs:
        from trainer.shipping.stubs import write_stubs

        written, backup_dir = write_stubs(config.model_dir, config.codecs, config.out_dir / "backup", utc_stamp())
        for path in written:
            print(f"wrote {path}", file=out)
        print(f"previous files in {backup_dir}; roll back with --restore {backup_dir.name}", file=out)
        return EXIT_OK
    if config.yes:
        with model_dir_lock(config.model_dir, purpose="preflight"):
            pass  # fail fast, before any training, if another run is applying
    with stop_on_signals() as stop:
        return _train_and_report(config, entrypoint, out, stop, recovered)


def _train_and_report(config: RunConfig, entrypoint: str, out: TextIO, stop: StopRequest,
                      recovered: dict[str, object] | None = None) -> int:
    stamp = utc_stamp()
    inputs = CorpusInputs([], [], [])
    if not config.synthetic_smoke:
        inputs = find_inputs(config.corpus_files, config.corpus_roots)
        if not inputs.files and not config.allow_empty:
            raise ConfigError(
                "no corpus found: pass --corpus FILE or --corpus-root DIR, or populate one of "
                f"{inputs.describe_missing()} with *.jsonl files (or set ALLOW_EMPTY=1 to report missing-rows)"
            )
    require_writable_dir(config.out_dir, "run output directory")
    require_writable_dir(config.report_path.parent, "report directory")
    for extra, what in ((config.junit_xml, "JUnit XML directory"), (config.summary_md, "summary directory")):
        if extra is not None:
            require_writable_dir(extra.parent, what)
    # An unreachable scheduler or mismatched workers: exit 2 now, before any corpus is read.
    cluster = connect(config.scheduler, config.scheduler_timeout_s) if config.scheduler else None
    if cluster is None:
        start_pool_helpers()  # the fork server imports torch while this process reads the corpus
    executor_factory, capacity, executor_info = _executor(config, cluster)
    state = _RunState(inputs, config.out_dir / f"train_{stamp}.log", executor_info, recovered=recovered)
    log = RunLog(state.log_path, echo=out)
    if cluster is not None:
        cluster.on_refusal(log.line)  # a late worker of another build: named in the log
    if recovered is not None:
        log.line(describe_recovery(recovered))
    failure: BaseException | None = None
    try:
        try:
            _train(config, entrypoint, state, log, stop, stamp, executor_factory, capacity)
        except Exception as exc:  # every way a run ends still writes the report (below)
            failure = exc
            state.error = f"{type(exc).__name__}: {_one_line(exc)}"
            log.line(f"error: {state.error}")
            log.line("".join(traceback.format_exception(exc)).rstrip(), echo=False)
        finally:
            exit_code = _finish(config, entrypoint, state, log, stop)
    finally:
        log.close()
        if cluster is not None:
            cluster.close()  # also when no task ever ran (every codec missing-rows)
    if isinstance(failure, EXPECTED_ERRORS):
        raise failure  # usage, environment or model-dir errors keep their exit 2 and their one line
    if failure is not None:
        raise InternalError(f"{state.error}; traceback in {state.log_path}; report: {config.report_path}")
    if log.error and exit_code in (EXIT_OK, EXIT_NOT_ALL_PASS):
        raise OutputUnwritable(log.error)
    return exit_code


class InternalError(Exception):
    """An unexpected exception ended the run; the report and the log (with the traceback) were written."""


EXPECTED_ERRORS = (ConfigError, OutputUnwritable, ModelDirLocked, PromotionError, ClusterUnavailable)


@dataclass
class _RunState:
    """What a run has got to, whatever ends it: the report is written from this."""

    inputs: CorpusInputs
    log_path: Path
    executor_info: dict[str, object]
    corpus: Corpus | None = None
    engine: TrainingEngine | None = None
    promotion: dict[str, object] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    error: str | None = None
    recovered: dict[str, object] | None = None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _train(config: RunConfig, entrypoint: str, state: _RunState, log: RunLog, stop: StopRequest, stamp: str,
           executor_factory: ExecutorFactory, capacity: int) -> None:
    log.line(f"{entrypoint}: profile={config.profile.name} seed={config.seed} codecs={len(config.codecs)} "
             f"executor={describe_executor(state.executor_info)}")
    for line in describe_probe_overrides(config.probe_quality):
        log.line(line)
    if config.synthetic_smoke:
        log.line("synthetic smoke run: generated corpora, diagnostic only, nothing can pass or promote")
    else:
        state.corpus = load_corpus(state.inputs.files, state.inputs.present_roots, state.inputs.missing_roots,
                                   config.workers, config.probe_measurements)
        for line in describe_corpus(state.inputs, state.corpus):
            log.line(line)

    def emit(event: Event) -> None:
        log.line(describe_event(event))

    engine = state.engine = TrainingEngine(
        profile=config.profile,
        seed=config.seed,
        emit=emit,
        executor_factory=executor_factory,
        workers=capacity,
        synthetic=config.synthetic_smoke,
        compare=incumbent_judge(config.model_dir),
    )
    loaders = codec_loaders(config, state.inputs, state.corpus)
    try:
        if not stop.requested:
            for codec, load in loaders.items():
                engine.submit(codec, load)
            engine.run_until_idle(lambda: stop.requested)
        if stop.requested:
            state.promotion = {"skipped": f"{stop.reason}: nothing was promoted or patched"}
        elif config.synthetic_smoke:
            state.promotion = {"skipped": "synthetic smoke run: nothing is promoted or patched"}
        else:
            state.promotion, state.written = promote(config, engine, loaders, log, stamp, stop)
    except BaseException:
        engine.close(kill=True)  # an error ends running workers now, as a stop does
        raise
    engine.close(kill=stop.requested)  # a stop ends running workers now, not after their task
    if config.advise and not stop.requested:
        advise_failing(engine.results, loaders, config.profile, config.seed, executor_factory, log.line,
                       lambda: stop.requested)


def _finish(config: RunConfig, entrypoint: str, state: _RunState, log: RunLog, stop: StopRequest) -> int:
    """Verdicts, report, CI outputs and the exit code, however the run ended."""
    results = dict(state.engine.results) if state.engine is not None else {}
    reason = f"internal error: {state.error}" if state.error else stop.reason
    if state.error or stop.requested:
        if stop.requested:
            log.line(f"{stop.reason}: stopped; unfinished codecs are reported as error")
        for codec in config.codecs:
            if codec not in results:
                results[codec] = _unfinished(codec, state.corpus, reason)
    if state.error and not state.promotion:
        state.promotion = {"skipped": f"{reason}: nothing was promoted or patched"}
    ordered = [results[c] for c in config.codecs]
    summary = summary_section(ordered, stop.signal_name or None, state.error)
    exit_code = EXIT_OK if summary["n_pass"] == len(ordered) and ordered else EXIT_NOT_ALL_PASS
    corpus = state.corpus
    report = build_report(
        results=results,
        corpus=corpus_section(corpus, state.inputs.present_roots, len(state.inputs.files), config.probe_quality),
        synthetic_smoke=config.synthetic_smoke,
        profile=config.profile.as_dict(),
        provenance={
            "entrypoint": entrypoint,
            "argv": config.argv,
            "args": config.as_dict(),
            "inputs": [vars(i) for i in (corpus.inputs if corpus else [])],
            "executor": state.executor_info,
            "outputs": [str(config.report_path), str(state.log_path), *state.written],
        },
        promotion=state.promotion,
        interrupted_by=stop.signal_name or None,
        error=state.error,
        probe_quality=config.probe_quality,
        recovered_promotion=state.recovered,
    )
    try:
        write_report(config.report_path, report)
    except OSError as exc:
        raise OutputUnwritable(f"cannot write report {config.report_path}: {exc.strerror or exc}") from None
    write_ci_outputs(config, report, log)
    log.line("")
    for line in summary_table(ordered):
        log.line(line)
    if state.promotion.get("error"):
        exit_code = EXIT_CONFIG  # the model directory could not be written as planned
    if stop.requested:
        exit_code = stop.exit_code
    if state.error:
        exit_code = EXIT_INTERNAL
    log.line(verdict_line(summary, exit_code))
    log.line(f"report: {config.report_path}")
    log.line(f"log: {state.log_path}")
    if stop.requested and not state.error:
        print(f"{entrypoint}: {stop.reason}; report: {config.report_path}", file=sys.stderr)
    return exit_code


def _executor(config: RunConfig, cluster: Cluster | None) -> tuple[ExecutorFactory, int, dict[str, object]]:
    """Where fold tasks run: the local fork-server pool, or the Dask cluster already connected."""
    if cluster is None:
        return (process_pool_factory(config.workers), config.workers,
                {"kind": "process-pool", "workers": config.workers})
    info = cluster.describe()
    return (lambda: DaskExecutor(cluster)), cluster_capacity(info), info


def write_ci_outputs(config: RunConfig, report: dict[str, object], log: RunLog) -> None:
    """JUnit XML and the Markdown summary, from the report just written (same numbers, one source)."""
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
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


def _unfinished(codec: str, corpus: Corpus | None, reason: str) -> CodecResult:
    """A codec the stop caught before its verdict: error, with its rows and sources still counted."""
    if corpus is None:
        return error_result(codec, 0, 0, reason)
    data = corpus.for_codec(codec)
    return error_result(codec, data.n_rows, data.n_sources, reason)
