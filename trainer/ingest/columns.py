"""The corpus's column table: which row keys feed which column, and the rejection ledger.

Parsing (``parsing``), discovery (``discovery``) and the assembled corpus (``corpus``) all speak
in these terms; nothing here reads a file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from trainer.core.display import DETAIL_LIMIT, clip, clip_path
from trainer.core.features import RAW_COLUMNS

# Row keys per raw column, first match wins (the aliases operators' corpora use).
FIELD_KEYS: tuple[tuple[str, ...], ...] = tuple(
    {
        "crf": ("crf", "cq", "q"),
        "bitrate_kbps": ("bitrate_kbps", "actual_kbps"),
        "fps": ("framerate", "fps"),
    }.get(name, (name,))
    for name in RAW_COLUMNS
)
CODEC_KEYS = ("encoder", "codec")
TARGET_KEYS = ("vmaf_score", "vmaf")
SOURCE_KEYS = ("src", "source")

# The exact path (trainer.ingest.exact_rows) turns each accepted row into one float64 record: the raw fields,
# then its bookkeeping. Codes, line numbers and frame indices are exact in float64 (all far below 2**53).
N_FIELDS = len(FIELD_KEYS)
TARGET_COLUMN, CODEC_COLUMN, SOURCE_COLUMN, PRESET_COLUMN, FRAME_COLUMN, GENERATED_COLUMN, LINE_COLUMN = range(
    N_FIELDS, N_FIELDS + 7)
ROW_WIDTH = N_FIELDS + 7

REJECTION_REASONS: tuple[str, ...] = (
    "malformed-json",
    "not-utf8",
    "not-an-object",
    "missing-target",
    "non-finite-target",
    "target-out-of-range",
    "missing-codec",
    "unknown-codec",
    "missing-source",
    "nonzero-exit-status",
    "wrong-value-type",
    "input-out-of-range",
    "duplicate-frame",
)
EXAMPLES_PER_REASON = 3
MAX_TRACKED_UNKNOWN_CODECS = 200


@dataclass
class Rejections:
    """Per-reason counts, the first few ``file:line: reason`` examples, unknown codec names."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    unknown_codecs: Counter = field(default_factory=Counter)
    unreadable_files: list[str] = field(default_factory=list)

    def add(self, reason: str, where: str, detail: str = "") -> None:
        self.counts[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < EXAMPLES_PER_REASON:
            detail = clip(detail, DETAIL_LIMIT)
            shown.append(f"{clip_path(where)}: {reason}{': ' + detail if detail else ''}")

    def add_unknown_codec(self, name: str, where: str) -> None:
        self.add("unknown-codec", where, repr(name[:64]))
        key = name[:64]
        if key in self.unknown_codecs or len(self.unknown_codecs) < MAX_TRACKED_UNKNOWN_CODECS:
            self.unknown_codecs[key] += 1
        else:
            self.unknown_codecs["<other>"] += 1

    def merge(self, other: Rejections) -> None:
        self.counts.update(other.counts)
        for reason, shown in other.examples.items():
            mine = self.examples.setdefault(reason, [])
            mine.extend(shown[: max(0, EXAMPLES_PER_REASON - len(mine))])
        self.unknown_codecs.update(other.unknown_codecs)
        self.unreadable_files.extend(other.unreadable_files)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def example_list(self) -> list[str]:
        return [ex for reason in REJECTION_REASONS for ex in self.examples.get(reason, [])]


@dataclass
class ParsedChunk:
    """Accepted rows of one stretch of one file, as columns."""

    path: str
    raw: np.ndarray  # float64 [n, len(RAW_COLUMNS)], NaN = absent; column-major (trainer.ingest.layout)
    target: np.ndarray  # float64 [n]
    codec: np.ndarray  # int8 [n], index into SUPPORTED_CODECS
    source_codes: np.ndarray  # int32 [n], index into source_names
    source_names: list[str]  # each source once (any order: trainer.ingest.codes sorts them per corpus)
    rejections: Rejections
    generated: np.ndarray  # bool [n]: the row says it was generated ("synthetic": true)
    per_frame: np.ndarray  # bool [n]: one frame of an encode (has frame_index); aggregated into clips later
    preset_codes: np.ndarray  # int32 [n], index into preset_names: the encoder preset each row names
    preset_names: list[str]  # each preset once ("" for rows that name none): part of the ladder key
    frame_index: np.ndarray  # float64 [n]: the row's frame_index (NaN: a whole-clip row)
    line_no: np.ndarray  # int64 [n]: the row's line in its file (for rejections found after parsing)

    @property
    def n_rows(self) -> int:
        return int(self.target.shape[0])

    @property
    def sources(self) -> list[str]:
        return [self.source_names[c] for c in self.source_codes.tolist()]

    @property
    def presets(self) -> list[str]:
        return [self.preset_names[c] for c in self.preset_codes.tolist()]

