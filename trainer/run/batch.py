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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TextIO

from trainer.core.atomic import OutputUnwritable, require_writable_dir
from trainer.core.codecs import probe_quality_of
from trainer.ingest.corpus import CodecData, Corpus, load_corpus
from trainer.ingest.discovery import CorpusInputs, find_inputs
from trainer.ingest.harness_probes import HarnessProbes
from trainer.ingest.synthetic import synthetic_codec_data
from trainer.learning.results import CodecResult, error_result
from trainer.outputs.describe import (
    describe_corpus,
    describe_probe_overrides,
    summary_table,
    verdict_line,
)
from trainer.outputs.report import summary_section, utc_stamp
from trainer.run.advise import advise_failing
from trainer.run.config import ConfigError, RunConfig
from trainer.run.errors import InternalError, OutOfMemory
from trainer.run.exits import EXIT_INTERNAL, EXPECTED_ERRORS, exit_for_exception
from trainer.run.memory_guard import MemoryGuard
from trainer.run.progress import BatchProgress
from trainer.run.promotion import PromotionOutcome, apply_promotion, plan_from_verdicts
from trainer.run.report_writer import write_ci_outputs
from trainer.run.service import RunService, describe_recovery, open_wiring, recover
from trainer.run.shutdown import StopRequest, stop_on_signals
from trainer.shipping.lock import model_dir_lock
from trainer.shipping.restore import restore_backup

__all__ = ["EXPECTED_ERRORS", "InternalError", "codec_loaders", "run_batch"]

SMOKE_SOURCES, SMOKE_ROWS_PER_SOURCE, SMOKE_NOISE = 8, 40, 1.0


def codec_loaders(config: RunConfig, inputs: CorpusInputs, corpus: Corpus | None) -> dict[str, Callable[[], CodecData]]:
    """How each codec's table is obtained: generated, re-read (reference parity) or sliced."""
    loaders: dict[str, Callable[[], CodecData]] = {}
    for codec in config.codecs:
        quality = probe_quality_of(codec, config.probe_quality)  # the operator's --probe-quality, else the harness's
        if config.synthetic_smoke:
            loaders[codec] = partial(_generated, config, codec, quality)
        elif config.profile.reread_corpus_per_codec:
            loaders[codec] = partial(_reread, config, inputs, codec, quality)
        else:
            assert corpus is not None
            loaders[codec] = partial(_sliced, corpus, codec, quality)
    if config.harness_probes is not None and not config.synthetic_smoke:
        probes = config.harness_probes
        return {codec: partial(_with_probes, load, probes) for codec, load in loaders.items()}
    return loaders


# The loaders' bodies: module functions bound with functools.partial, so each codec's loader keeps its own
# codec and quality (a lambda in the loop would see the last ones) and the checker sees their types.
def _generated(config: RunConfig, codec: str, quality: float) -> CodecData:
    return synthetic_codec_data(codec, SMOKE_SOURCES, SMOKE_ROWS_PER_SOURCE, SMOKE_NOISE, config.seed,
                                probe_quality=quality)


def _reread(config: RunConfig, inputs: CorpusInputs, codec: str, quality: float) -> CodecData:
    return load_corpus(inputs.files, probe_measurements=config.probe_measurements).for_codec(codec, quality)


def _sliced(corpus: Corpus, codec: str, quality: float) -> CodecData:
    return corpus.for_codec(codec, quality)


def _with_probes(load: Callable[[], CodecData], probes: HarnessProbes) -> CodecData:
    return load().with_harness_probes(probes)


def promote(config: RunConfig, engine_service: RunService, stop: StopRequest) -> PromotionOutcome:
    """Plan the model-dir changes from the verdicts and the retrains the drain ran, apply them with --yes.

    A stop signal before the apply (during training, the retrains or the planning) skips it:
    nothing is written. One during the apply is only recorded, so the apply completes (or, on a
    write error, rolls back) before the batch stops.
    """
    log = engine_service.log
    plan = plan_from_verdicts(engine_service.engine, config.model_dir, config.report_path,
                              config.codecs if config.allow_regression else (), log, wait_s=0)
    for line in plan.describe():
        log.line(line)
    if plan.changes and config.yes:
        outcome = apply_promotion(plan, config.model_dir, config.out_dir / "backup", engine_service.stamp, log, stop)
        if outcome.error is not None:
            print(f"error: promotion not applied: {outcome.error}", file=sys.stderr)
        return outcome
    if plan.changes:
        log.line("nothing written to the model directory: review the plan, then re-run with --yes to apply it")
    return PromotionOutcome({**plan.as_report(), "applied": [], "backup": None})


def run_restore(config: RunConfig, out: TextIO) -> int:
    assert config.restore is not None
    restored = restore_backup(config.out_dir / "backup", config.restore, config.model_dir, utc_stamp())
    for line in restored:
        print(line, file=out)
    return 0


def run_batch(config: RunConfig, entrypoint: str, out: TextIO | None = None) -> int:
    """One batch run. Raises ConfigError, OutputUnwritable, ModelDirLocked or PromotionError for exit 2."""
    out = out or sys.stdout
    if config.restore or config.write_stubs or config.yes:
        require_writable_dir(config.model_dir, "model directory")  # before any training, not after
    recovered = recover(config.model_dir)  # a set a killed run left half-written: first of all
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
        return 0
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
    wiring = open_wiring(config)
    # The report is written again at each verdict, so a run the kernel kills still leaves the ones it reached.
    progress = BatchProgress(lambda text: service.log.line(text), lambda: _write_partial(config, service, state))

    try:  # the engine starts each full-corpus retrain when its codec passes: the one drain runs them too
        service = RunService(config, entrypoint, wiring, stamp=stamp, echo=out, on_event=progress.on_event,
                             retrain_early=not config.synthetic_smoke)
    except BaseException:
        wiring.close()
        raise
    state = _RunState(inputs, progress=progress)
    service.recovered = recovered
    log = service.log
    if recovered is not None:
        log.line(describe_recovery(recovered))
    failure: BaseException | None = None
    try:
        try:
            with progress, MemoryGuard(stop.record_out_of_memory, progress.describe):
                _train(config, entrypoint, service, state, stop)
            if stop.out_of_memory is not None:
                raise OutOfMemory(stop.out_of_memory)
        except Exception as exc:  # every way a run ends still writes the report (below)
            if isinstance(exc, MemoryError):  # an allocation refused (ulimit -v): the stage and its size
                exc = OutOfMemory(f"out of memory: {progress.describe()} could not allocate: {exc}".rstrip(": "))
            failure = exc
            state.error = f"{type(exc).__name__}: {_one_line(exc)}"
            state.error_exit = exit_for_exception(exc)
            log.line(f"error: {state.error}")
            log.line("".join(traceback.format_exception(exc)).rstrip(), echo=False)
        finally:
            exit_code = _finish(config, service, state, stop)
    finally:
        service.close(kill=True)  # workers (already ended unless an error came first) and the log
        wiring.close()  # also when no task ever ran (every codec missing-rows)
    if isinstance(failure, EXPECTED_ERRORS):
        raise failure  # usage, environment or model-dir errors keep their exit 2 and their one line
    if failure is not None:
        raise InternalError(f"{state.error}; traceback in {log.path}; report: {config.report_path}")
    if log.error and exit_code in (0, 1):
        raise OutputUnwritable(log.error)
    return exit_code


@dataclass
class _RunState:
    """What the batch has got to, whatever ends it: the report is written from this."""

    inputs: CorpusInputs
    progress: BatchProgress | None = None  # the stage, for progress lines and an out-of-memory stop
    corpus: Corpus | None = None
    trained: bool = False  # the engine was started: its results are the report's
    promotion: dict[str, object] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    error: str | None = None
    error_exit: int | None = None  # the exit code of the exception that ended training (exits.py)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _train(config: RunConfig, entrypoint: str, service: RunService, state: _RunState, stop: StopRequest) -> None:
    log = service.log
    log.line(f"{entrypoint}: profile={config.profile.name} seed={config.seed} codecs={len(config.codecs)} "
             f"executor={service.wiring.describe()}")
    for line in describe_probe_overrides(config.probe_quality):
        log.line(line)
    stage = state.progress.stage if state.progress is not None else (lambda _name: None)
    if config.synthetic_smoke:
        log.line("synthetic smoke run: generated corpora, diagnostic only, nothing can pass or promote")
    else:
        n_bytes = sum(_size(f) for f in state.inputs.files)
        stage(f"ingest of {len(state.inputs.files)} corpus file(s), {n_bytes:,} bytes")
        state.corpus = load_corpus(state.inputs.files, state.inputs.present_roots, state.inputs.missing_roots,
                                   config.workers, config.probe_measurements)
        for line in describe_corpus(state.inputs, state.corpus):
            log.line(line)
    state.trained = True
    engine = service.engine
    loaders = codec_loaders(config, state.inputs, state.corpus)
    stage("training")
    try:
        if not stop.requested:
            for codec, load in loaders.items():
                service.train(codec, load)
            engine.run_until_idle(lambda: stop.requested)
        if stop.requested:
            state.promotion = {"skipped": f"{stop.reason}: nothing was promoted or patched"}
        elif config.synthetic_smoke:
            state.promotion = {"skipped": "synthetic smoke run: nothing is promoted or patched"}
        else:
            stage("promotion plan")
            outcome = promote(config, service, stop)
            state.promotion, state.written = outcome.section, outcome.written
    except BaseException:
        engine.close(kill=True)  # an error ends running workers now, as a stop does
        raise
    engine.close(kill=stop.requested)  # a stop ends running workers now, not after their task
    refused = _refused_allocation(engine.results, state.promotion)
    if refused is not None:
        raise OutOfMemory(refused)
    if config.advise and not stop.requested:
        stage("advice")
        advise_failing(engine.results, config.profile, config.seed, service.wiring.factory, log.line,
                       lambda: stop.requested)


def _finish(config: RunConfig, service: RunService, state: _RunState, stop: StopRequest) -> int:
    """Verdicts, report, CI outputs and the exit code, however the run ended."""
    log = service.log
    results = service.results() if state.trained else {}
    internal = state.error is not None and state.error_exit == EXIT_INTERNAL
    reason = (f"internal error: {state.error}" if internal else state.error) if state.error else stop.reason
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
    report = service.write_report(service.report_inputs(
        results=results, corpus=state.corpus, present_roots=state.inputs.present_roots,
        n_files=len(state.inputs.files), promotion=state.promotion, written=state.written,
        interrupted_by=stop.signal_name or None, error=state.error))
    write_ci_outputs(config, report, log)
    log.line("")
    for line in summary_table(ordered):
        log.line(line)
    exit_code = service.exit_code(summary, len(ordered), state.promotion,
                                  stop.exit_code if stop.requested else None, internal)
    if state.error_exit is not None and not internal:
        exit_code = state.error_exit  # an environment failure (a cluster that stayed gone …): exit 2, not 70
    log.line(verdict_line(summary, exit_code))
    log.line(f"report: {config.report_path}")
    log.line(f"log: {log.path}")
    if stop.requested and not state.error:
        print(f"{service.entrypoint}: {stop.reason}; report: {config.report_path}", file=sys.stderr)
    return exit_code


def _refused_allocation(results: Mapping[str, CodecResult], promotion: Mapping[str, object]) -> str | None:
    """A worker's task (fold or full-corpus retrain) that ended in MemoryError: the run is out of memory (exit 2),
    not a codec that failed."""
    for result in results.values():
        for reason in result.failure_reasons if result.status == "error" else []:
            if reason.startswith("MemoryError"):
                return (f"out of memory: training {result.codec} ({result.n_rows_total:,} rows) could not allocate: "
                        f"{reason}")
    blocked = promotion.get("blocked")
    for codec, reasons in (blocked.items() if isinstance(blocked, Mapping) else []):
        for reason in reasons:
            if "MemoryError" in reason:
                return f"out of memory: the full-corpus retrain of {codec} could not allocate: {reason}"
    return None


PENDING = "pending: not judged yet when this report was written (the run was still training)"


def _write_partial(config: RunConfig, service: RunService, state: _RunState) -> None:
    """The report as the verdicts stand, codecs still training marked pending: what a killed run leaves."""
    results = service.results()
    sizes = state.progress.sizes if state.progress is not None else {}
    for codec in config.codecs:
        if codec not in results:
            results[codec] = error_result(codec, *sizes.get(codec, (0, 0)), PENDING)
    service.write_report(service.report_inputs(
        results=results, corpus=state.corpus, present_roots=state.inputs.present_roots,
        n_files=len(state.inputs.files), promotion={"skipped": "the run was still training"}, in_progress=True))


def _size(path: Path) -> int:
    """A corpus file's size for the ingest stage's line; 0 where it cannot be read."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _unfinished(codec: str, corpus: Corpus | None, reason: str) -> CodecResult:
    """A codec the stop caught before its verdict: error, with its rows and sources still counted."""
    if corpus is None:
        return error_result(codec, 0, 0, reason)
    data = corpus.for_codec(codec)
    return error_result(codec, data.n_rows, data.n_sources, reason)
