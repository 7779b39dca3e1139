"""Run: orchestration. The run service both faces drive (engine, promotion, report, exit codes), the
batch face, the CLI, the option table and configuration, stop signals, the run log, the live corpus,
the memory guard and progress lines. The engine itself is ``trainer.engine``.

The top of the library's stack but for the benchmark: nothing in ``trainer`` below it imports it.

This package is also the console's one face onto the trainer: the console imports from
``trainer.run`` alone (``tests/test_layout.py`` checks it), never from a submodule or another
package, so what the console may use is this list and nothing else.
"""

from trainer.core.codecs import QUALITY_RANGE, SUPPORTED_CODECS
from trainer.core.display import clip, clip_path
from trainer.core.gate import LOSO_FOLD_COUNT, SHIP_GATE_MEAN_PLCC, SHIP_GATE_PER_FOLD_MIN, SHIP_GATE_PLCC_SPREAD_MAX
from trainer.core.streams import DroppingStream, is_gone, output_dropped_when_gone
from trainer.ingest.corpus import CodecData, Corpus
from trainer.learning.crf_pick import TARGETS, harness_pick, pool
from trainer.learning.events import CodecCancelled, CodecFinished, CodecQueued, Event, FoldFinished, TaskRetried
from trainer.learning.ladder_curves import MAX_LADDERS_PER_FOLD, LadderCurve
from trainer.learning.results import CodecResult, FoldResult
from trainer.learning.selection import describe_choice
from trainer.outputs.advice_text import estimate_text, outlier_lines
from trainer.outputs.calibration_text import CALIBRATION_HEADER, calibration_rows, target_offset
from trainer.outputs.describe import (
    HARNESS_PROBE_LABEL,
    describe_crf_pick,
    describe_incumbent,
    describe_probe_overrides,
    fmt,
)
from trainer.outputs.report_reader import ReportUnreadable, codec_results, read_report
from trainer.run.cli import run_parsed
from trainer.run.config import ConfigError, RunConfig, resolve_config
from trainer.run.exits import EPILOG, EXPECTED_ERRORS, SIGNAL_BASE, exit_for_exception
from trainer.run.live_corpus import CorpusStats, LiveCorpus
from trainer.run.options import CONSOLE as CONSOLE_FACE
from trainer.run.options import DESCRIPTION, build_parser, refuse_other_face
from trainer.run.promotion import PromotionPlan, regression
from trainer.run.runlog import RunLog
from trainer.run.service import RunService, open_wiring
from trainer.run.wiring import Wiring

__all__ = [
    "CALIBRATION_HEADER", "CONSOLE_FACE", "DESCRIPTION", "EPILOG", "EXPECTED_ERRORS", "HARNESS_PROBE_LABEL",
    "LOSO_FOLD_COUNT", "MAX_LADDERS_PER_FOLD", "QUALITY_RANGE", "SHIP_GATE_MEAN_PLCC", "SHIP_GATE_PER_FOLD_MIN",
    "SHIP_GATE_PLCC_SPREAD_MAX", "SIGNAL_BASE", "SUPPORTED_CODECS", "TARGETS",
    "CodecCancelled", "CodecData", "CodecFinished", "CodecQueued", "CodecResult", "ConfigError", "Corpus",
    "CorpusStats", "DroppingStream", "Event", "FoldFinished", "FoldResult", "LadderCurve", "LiveCorpus",
    "PromotionPlan", "ReportUnreadable", "RunConfig", "RunLog", "RunService", "TaskRetried", "Wiring",
    "build_parser", "calibration_rows", "clip", "clip_path", "codec_results", "describe_choice", "describe_crf_pick",
    "describe_incumbent", "describe_probe_overrides", "estimate_text", "exit_for_exception", "fmt", "harness_pick",
    "is_gone", "open_wiring", "outlier_lines", "output_dropped_when_gone", "pool", "read_report", "refuse_other_face",
    "regression", "resolve_config", "run_parsed", "target_offset",
]
