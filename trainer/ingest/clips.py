"""Per-frame rows become clips: one row per encode, its target the mean VMAF over its frames.

The predictor scores one shot, so a 300-frame encode is one example, not 300: left per-frame,
row counts would count frames and a long clip would outweigh a short one three hundred to one.
A clip is identified by source, codec, quality and, where the rows carry them, preset,
resolution, frame rate and bitrate. Grouping runs on the whole corpus, so frames of one clip may arrive in
any number of appends or chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.core.features import RAW_INDEX

CLIP_KEY_COLUMNS = tuple(RAW_INDEX[c] for c in ("crf", "width", "height", "fps", "bitrate_kbps"))
_ABSENT_KEY = -1.0  # stands for "column absent" in a key (every real value is >= 0 after validation)


@dataclass(frozen=True)
class Clips:
    raw: np.ndarray
    target: np.ndarray
    codec: np.ndarray
    sources: np.ndarray
    file_index: np.ndarray
    generated: np.ndarray
    presets: np.ndarray
    frames: int

    @property
    def n_clips(self) -> int:
        return int(self.target.shape[0])


def clip_key_columns(raw: np.ndarray) -> np.ndarray:
    """The clip-identifying columns of frame rows (quality, resolution, fps, bitrate; absent = -1).

    The one definition of "same clip" besides source and codec: whole-corpus grouping here and
    the live console's per-chunk clip counts both use it.
    """
    return np.nan_to_num(raw[:, CLIP_KEY_COLUMNS], nan=_ABSENT_KEY)


def clip_keys(raw: np.ndarray, codec: np.ndarray, sources: np.ndarray, presets: np.ndarray) -> np.ndarray:
    """One float row per frame: codec, source id, preset id, then ``clip_key_columns``."""
    _names, source_ids = np.unique(np.asarray(sources, dtype=object).astype(str), return_inverse=True)
    _names, preset_ids = np.unique(np.asarray(presets, dtype=object).astype(str), return_inverse=True)
    return np.column_stack([codec.astype(np.float64), source_ids.astype(np.float64),
                            preset_ids.reshape(-1).astype(np.float64), clip_key_columns(raw)])


def aggregate_frames(
    raw: np.ndarray,
    target: np.ndarray,
    codec: np.ndarray,
    sources: np.ndarray,
    file_index: np.ndarray,
    generated: np.ndarray,
    presets: np.ndarray,
) -> Clips:
    """Group frame rows into clips, in order of each clip's first frame.

    Other input columns are averaged over the frames that carry them (absent stays absent).
    """
    n = target.shape[0]
    if n == 0:
        return Clips(raw, target, codec, np.asarray(sources, dtype=object), file_index, generated,
                     np.asarray(presets, dtype=object), 0)
    _keys, first, inverse = np.unique(clip_keys(raw, codec, sources, presets), axis=0, return_index=True,
                                      return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(first, kind="stable")  # clip ids by first appearance, not by key value
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    clip_of_row = rank[inverse]
    n_clips = order.size
    frames_per_clip = np.bincount(clip_of_row, minlength=n_clips).astype(np.float64)
    mean_target = np.bincount(clip_of_row, weights=target, minlength=n_clips) / frames_per_clip
    present = ~np.isnan(raw)
    sums = np.zeros((n_clips, raw.shape[1]))
    counts = np.zeros((n_clips, raw.shape[1]))
    np.add.at(sums, clip_of_row, np.where(present, raw, 0.0))
    np.add.at(counts, clip_of_row, present.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_raw = np.where(counts > 0, sums / np.maximum(counts, 1.0), np.nan)
    firsts = first[order]
    earliest_file = np.full(n_clips, np.iinfo(np.int32).max, dtype=np.int64)
    np.minimum.at(earliest_file, clip_of_row, file_index.astype(np.int64))
    any_generated = np.zeros(n_clips, dtype=bool)
    np.logical_or.at(any_generated, clip_of_row, generated)
    return Clips(
        raw=mean_raw,
        target=mean_target,
        codec=codec[firsts],
        sources=np.asarray(sources, dtype=object)[firsts],
        file_index=earliest_file.astype(np.int32),
        generated=any_generated,
        presets=np.asarray(presets, dtype=object)[firsts],
        frames=n,
    )
