"""Per-frame rows become clips: one row per encode, its target the mean VMAF over its frames.

The predictor scores one shot, so a 300-frame encode is one example, not 300: left per-frame,
row counts would count frames and a long clip would outweigh a short one three hundred to one.
A clip is identified by source, codec, quality and, where the rows carry them, preset,
resolution and frame rate. Not by bitrate: a per-frame bitrate differs on every frame (it is averaged instead).
A resolution or fps present on only some frames of a (source, codec, preset, quality) group is given to
the others when the group has exactly one such value, so it does not split the clip. Two frames
with the same ``frame_index`` in one clip are two encodes that nothing tells apart (a resolution
ladder at one CQ in rows without width/height): the later one is rejected as ``duplicate-frame``
with its file and line, never merged. A clip's shot length, unless its rows give one, is its
number of frames. Grouping runs on the whole corpus, so frames of one clip may arrive in any
number of appends or chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trainer.core.features import RAW_INDEX
from trainer.ingest.columns import Rejections

CLIP_KEY_COLUMNS = tuple(RAW_INDEX[c] for c in ("crf", "width", "height", "fps"))
FILLED_KEY_COLUMNS = tuple(RAW_INDEX[c] for c in ("width", "height", "fps"))
SHOT_LENGTH = RAW_INDEX["shot_length_frames"]
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
    """The clip-identifying columns of frame rows (quality, resolution, fps; absent = -1).

    The one definition of "same clip" besides source and codec: whole-corpus grouping here and
    the live console's per-chunk clip counts both use it.
    """
    return np.nan_to_num(raw[:, CLIP_KEY_COLUMNS], nan=_ABSENT_KEY)


def _ids(names: np.ndarray) -> np.ndarray:
    """Names as float ids for a key: integer codes (trainer.ingest.codes) as they are, strings numbered."""
    names = np.asarray(names)
    if names.dtype.kind in "iu":
        return names.astype(np.float64)
    return np.unique(names.astype(str), return_inverse=True)[1].reshape(-1).astype(np.float64)


def clip_keys(raw: np.ndarray, codec: np.ndarray, sources: np.ndarray, presets: np.ndarray) -> np.ndarray:
    """One float row per frame: codec, source id, preset id (codes or names), then ``clip_key_columns``."""
    return np.column_stack([codec.astype(np.float64), _ids(sources), _ids(presets), clip_key_columns(raw)])


def fill_unambiguous(raw: np.ndarray, codec: np.ndarray, sources: np.ndarray, presets: np.ndarray) -> np.ndarray:
    """Frames missing a resolution / fps take it from their (codec, source, preset, quality) group
    when the group's frames that carry it agree on one value; otherwise they stay absent."""
    raw = raw.copy()
    quality = np.nan_to_num(raw[:, RAW_INDEX["crf"]], nan=_ABSENT_KEY)
    _groups, group = np.unique(np.column_stack([codec.astype(np.float64), _ids(sources), _ids(presets), quality]),
                               axis=0, return_inverse=True)
    group = group.ravel()
    n_groups = int(group.max()) + 1
    for column in FILLED_KEY_COLUMNS:
        values = raw[:, column]
        present = ~np.isnan(values)
        if present.all() or not present.any():
            continue
        pairs = np.unique(np.column_stack([group[present], values[present]]), axis=0)
        pair_group = pairs[:, 0].astype(np.int64)
        single = np.bincount(pair_group, minlength=n_groups) == 1
        value_of = np.full(n_groups, np.nan)
        value_of[pair_group[single[pair_group]]] = pairs[single[pair_group], 1]
        fill = ~present & ~np.isnan(value_of[group])
        values[fill] = value_of[group][fill]
    return raw


def duplicate_frames(keys: np.ndarray, frame_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows repeating a frame_index of their clip, the row each one repeats), first occurrence kept."""
    _unique, first, inverse = np.unique(np.column_stack([keys, frame_index]), axis=0, return_index=True,
                                        return_inverse=True)
    original = first[inverse.ravel()]
    duplicate = original != np.arange(keys.shape[0])
    return duplicate, original


def aggregate_frames(
    raw: np.ndarray,
    target: np.ndarray,
    codec: np.ndarray,
    sources: np.ndarray,
    file_index: np.ndarray,
    generated: np.ndarray,
    presets: np.ndarray,
    frame_index: np.ndarray | None = None,
    where: Callable[[int], str] | None = None,
) -> tuple[Clips, Rejections]:
    """Group frame rows into clips, in order of each clip's first frame.

    Other input columns are averaged over the frames that carry them (absent stays absent).
    ``where(row)`` names a row as ``file:line`` for the ``duplicate-frame`` rejections.

    Parameters
    ----------
    raw : ndarray of shape (n_frames, n_fields), float64
        The frames' input columns in ``trainer.ingest.columns`` order; NaN where a frame has no value.
    target : ndarray of shape (n_frames,)
        Each frame's VMAF (0-100); a clip's is their mean.
    codec : ndarray of shape (n_frames,)
        Codec codes (``CODEC_INDEX``).
    sources, presets : ndarray of shape (n_frames,)
        Source and preset of each frame, as codes (``trainer.ingest.codes``) or names.
    file_index : ndarray of shape (n_frames,), int
        Which corpus file each frame came from.
    generated : ndarray of shape (n_frames,), bool
        Frames of generated (``"synthetic": true``) rows.
    frame_index : ndarray of shape (n_frames,), optional
        Each frame's index in its encode; a second frame with the same index in a clip is rejected.
    where : callable, optional
        Row number to ``file:line``; None names rows by number.
    """
    rejections = Rejections()
    n = target.shape[0]
    if n == 0:
        return Clips(raw, target, codec, np.asarray(sources, dtype=object), file_index, generated,
                     np.asarray(presets, dtype=object), 0), rejections
    sources, presets = np.asarray(sources), np.asarray(presets)  # codes (trainer.ingest.codes) or names
    raw = fill_unambiguous(raw, codec, sources, presets)
    keys = clip_keys(raw, codec, sources, presets)
    if frame_index is not None:
        duplicate, original = duplicate_frames(keys, frame_index)
        for row in np.flatnonzero(duplicate).tolist():
            here = where(row) if where else f"row {row}"
            earlier = where(int(original[row])) if where else f"row {original[row]}"
            if earlier.rpartition(":")[0] == here.rpartition(":")[0]:
                earlier = f"line {earlier.rpartition(':')[2]}"  # same file: the line says it (details are clipped)
            rejections.add("duplicate-frame", here, f"frame_index {int(frame_index[row])} of this clip is already "
                           f"at {earlier}; frames of two encodes need width/height to tell them apart")
        if duplicate.any():
            keep = ~duplicate
            raw, target, codec, sources, presets = raw[keep], target[keep], codec[keep], sources[keep], presets[keep]
            file_index, generated, keys = file_index[keep], generated[keep], keys[keep]
            n = target.shape[0]
    _keys, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
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
    shot = mean_raw[:, SHOT_LENGTH]
    mean_raw[:, SHOT_LENGTH] = np.where(np.isnan(shot), frames_per_clip, shot)  # the frames are the shot
    firsts = first[order]
    earliest_file = np.full(n_clips, np.iinfo(np.int32).max, dtype=np.int64)
    np.minimum.at(earliest_file, clip_of_row, file_index.astype(np.int64))
    any_generated = np.zeros(n_clips, dtype=bool)
    np.logical_or.at(any_generated, clip_of_row, generated)
    clips = Clips(
        raw=mean_raw,
        target=mean_target,
        codec=codec[firsts],
        sources=sources[firsts],
        file_index=earliest_file.astype(np.int32),
        generated=any_generated,
        presets=presets[firsts],
        frames=n,
    )
    return clips, rejections
