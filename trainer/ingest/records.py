"""Accepted rows of one block of lines as columns: what both parsing paths produce, before the chunk.

The typed path fills these columns directly (its raw columns straight into the chunk's table);
the exact path's float64 records (the layout in ``trainer.ingest.columns``) are split into them.
Keeping the columns apart from the start means no wide table is copied into columns after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from trainer.ingest.columns import (
    CODEC_COLUMN,
    FRAME_COLUMN,
    GENERATED_COLUMN,
    LINE_COLUMN,
    N_FIELDS,
    PRESET_COLUMN,
    SOURCE_COLUMN,
    TARGET_COLUMN,
)
from trainer.ingest.layout import column_major, joined, take_rows


@dataclass(frozen=True)
class Records:
    raw: np.ndarray  # float64 [n, N_FIELDS], NaN = absent; column-major (trainer.ingest.layout)
    target: np.ndarray  # float64 [n]
    codec: np.ndarray  # int8 [n]
    source_codes: np.ndarray  # int32 [n]
    preset_codes: np.ndarray  # int32 [n]
    frame_index: np.ndarray  # float64 [n] (NaN: a whole-clip row)
    generated: np.ndarray  # bool [n]
    line_no: np.ndarray  # int64 [n]

    @property
    def n_rows(self) -> int:
        return int(self.target.shape[0])

    @classmethod
    def empty(cls) -> Records:
        return cls.from_table(np.zeros((0, LINE_COLUMN + 1)))

    @classmethod
    def from_table(cls, table: np.ndarray) -> Records:
        """Split float64 records (``trainer.ingest.columns`` layout) into columns."""
        return cls(
            raw=column_major(table[:, :N_FIELDS]),
            target=table[:, TARGET_COLUMN].copy(),
            codec=table[:, CODEC_COLUMN].astype(np.int8),
            source_codes=table[:, SOURCE_COLUMN].astype(np.int32),
            preset_codes=table[:, PRESET_COLUMN].astype(np.int32),
            frame_index=table[:, FRAME_COLUMN].copy(),
            generated=table[:, GENERATED_COLUMN] != 0.0,
            line_no=table[:, LINE_COLUMN].astype(np.int64),
        )

    @classmethod
    def joined(cls, parts: Sequence[Records], raw: np.ndarray | None = None) -> Records:
        """The parts end to end (a single part as it is: no copy); ``raw``: their raw rows, already joined."""
        if not parts:
            return cls.empty()
        if len(parts) == 1 and raw is None:
            return parts[0]
        return cls(**{f.name: raw if f.name == "raw" and raw is not None else
                      joined([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def in_line_order(self) -> Records:
        order = np.argsort(self.line_no, kind="stable")
        return Records(**{f.name: take_rows(self.raw, order) if f.name == "raw" else getattr(self, f.name)[order]
                          for f in fields(self)})
