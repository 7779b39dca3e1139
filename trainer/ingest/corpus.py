"""The assembled corpus: every accepted row of a run as columns, sliced per codec for training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from trainer.core.codecs import CODEC_INDEX, PROBE_PRESET, PROBE_QUALITY, SUPPORTED_CODECS
from trainer.core.features import N_FEATURES, RAW_COLUMNS, project_features
from trainer.ingest import codes
from trainer.ingest.clips import aggregate_frames
from trainer.ingest.columns import ParsedChunk, Rejections
from trainer.ingest.harness_probes import HarnessFeatures, HarnessProbes
from trainer.ingest.layout import column_major, joined, take_rows
from trainer.ingest.parsing import InputFile, read_corpus_file
from trainer.ingest.probes import ProbeCounts, derive_probe_inputs, observed_inputs


@dataclass
class CodecData:
    """One codec's training table: features in contract order, targets, LOSO groups."""

    codec: str
    features: np.ndarray  # float32 [n, 14]
    target: np.ndarray  # float32 [n]
    sources: np.ndarray  # str [n]
    provenance: list[dict[str, object]]
    n_generated: int = 0  # rows marked as generated: such a table may pass the gate but never promotes
    # Model inputs some row really measured; the rest (absent, or stand-ins computed from other
    # inputs) get zero weight, so whatever the harness feeds there cannot move the model.
    observed: np.ndarray = field(default_factory=lambda: np.ones(N_FEATURES, dtype=bool))
    probe: ProbeCounts = field(default_factory=ProbeCounts)
    probe_quality: float | None = None  # the harness probe quality these inputs assume
    encode_kbps: np.ndarray | None = None  # each row's own encode bitrate (NaN absent): bitrate at a pick
    # Each row's ladder (source, resolution, fps, preset): two presets share probe inputs once the
    # probe comes from the probe-preset ladder, yet are two measured curves to pick along.
    ladders: np.ndarray | None = None
    # The harness's own probe of some clips, replacing their probe inputs (``--harness-probes``): held-out
    # picks are judged again with these; training never sees them.
    harness: HarnessFeatures | None = None
    # [n] bool: rows that state their quality (CRF, CQ or QP); None where the table was built without saying.
    # A table of both kinds trains on these alone (learning.row_kinds).
    quality_stated: np.ndarray | None = None

    def with_harness_probes(self, probes: HarnessProbes) -> CodecData:
        """This table with the harness's own probe of its clips beside it, at its probe quality (for judging only)."""
        quality = PROBE_QUALITY[self.codec] if self.probe_quality is None else self.probe_quality
        return replace(self, harness=probes.for_codec(self.codec, self.sources, quality, PROBE_PRESET[self.codec]))

    @property
    def n_rows(self) -> int:
        return int(self.target.shape[0])

    @property
    def n_sources(self) -> int:
        return int(np.unique(self.sources).size) if self.n_rows else 0


@dataclass
class Corpus:
    """Every accepted row of a run, with the rejection ledger and the input provenance."""

    raw: np.ndarray
    target: np.ndarray
    codec: np.ndarray
    # Sources and presets as int32 codes into sorted name tables (trainer.ingest.codes), made once at load:
    # ladders are keyed by numbers, never by sorting strings again per codec.
    source_codes: np.ndarray
    source_names: np.ndarray
    file_index: np.ndarray
    files: list[str]
    rejections: Rejections
    generated: np.ndarray
    preset_codes: np.ndarray  # ("" = the row names no preset): part of the ladder key
    preset_names: np.ndarray
    inputs: list[InputFile] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)
    missing_roots: list[str] = field(default_factory=list)
    frames_aggregated: int = 0  # per-frame rows folded into clips
    clips: int = 0  # the clips they became (counted in rows_accepted)
    # The harness's own probe per clip, to train on as explicit probe inputs (--train-on-harness-probes).
    probe_measurements: HarnessProbes | None = field(default=None, repr=False, compare=False)
    # Probe origins per (codec, probe quality), kept by for_codec so the report does not derive them again.
    _probe_counts: dict[tuple[str, float], ProbeCounts] = field(default_factory=dict, repr=False, compare=False)

    @property
    def rows_accepted(self) -> int:
        return int(self.target.shape[0])

    @property
    def sources(self) -> np.ndarray:
        """str per row."""
        return codes.decode(self.source_codes, self.source_names)

    @property
    def presets(self) -> np.ndarray:
        """str per row ("" = the row names no preset)."""
        return codes.decode(self.preset_codes, self.preset_names)

    @classmethod
    def from_chunks(cls, chunks: Sequence[ParsedChunk], *, inputs: list[InputFile] | None = None,
                    roots: list[str] | None = None, missing_roots: list[str] | None = None,
                    probe_measurements: HarnessProbes | None = None) -> Corpus:
        rejections = Rejections()
        files: list[str] = []
        file_ids: list[np.ndarray] = []
        for chunk in chunks:
            rejections.merge(chunk.rejections)
            if chunk.path not in files:
                files.append(chunk.path)
            file_ids.append(np.full(chunk.n_rows, files.index(chunk.path), dtype=np.int32))
        n_cols = len(RAW_COLUMNS)
        raw = column_major(joined([c.raw for c in chunks]) if chunks else np.zeros((0, n_cols)))
        target = joined([c.target for c in chunks]) if chunks else np.zeros(0)
        codec = joined([c.codec for c in chunks]) if chunks else np.zeros(0, np.int8)
        sources, source_names = codes.merge([(c.source_codes, c.source_names) for c in chunks])
        presets, preset_names = codes.merge([(c.preset_codes, c.preset_names) for c in chunks])
        file_index = joined(file_ids) if chunks else np.zeros(0, np.int32)
        generated = joined([c.generated for c in chunks]) if chunks else np.zeros(0, bool)
        frames = joined([c.per_frame for c in chunks]) if chunks else np.zeros(0, bool)
        n_frames = n_clips = 0
        if frames.any():
            rows = ~frames
            frame_index = np.concatenate([c.frame_index for c in chunks])[frames]
            line_no = np.concatenate([c.line_no for c in chunks])[frames]
            frame_file = file_index[frames]

            def where(row: int) -> str:
                return f"{files[frame_file[row]]}:{line_no[row]}"

            clips, duplicates = aggregate_frames(raw[frames], target[frames], codec[frames], sources[frames],
                                                 file_index[frames], generated[frames], presets[frames],
                                                 frame_index, where)
            rejections.merge(duplicates)
            n_frames, n_clips = clips.frames, clips.n_clips
            raw = column_major(np.concatenate([take_rows(raw, rows), clips.raw]))
            target = np.concatenate([target[rows], clips.target])
            codec = np.concatenate([codec[rows], clips.codec])
            sources = np.concatenate([sources[rows], clips.sources])
            file_index = np.concatenate([file_index[rows], clips.file_index])
            generated = np.concatenate([generated[rows], clips.generated])
            presets = np.concatenate([presets[rows], clips.presets])
        return cls(
            raw=raw,
            target=target,
            codec=codec,
            source_codes=sources,
            source_names=source_names,
            file_index=file_index,
            generated=generated,
            preset_codes=presets,
            preset_names=preset_names,
            files=files,
            rejections=rejections,
            frames_aggregated=n_frames,
            clips=n_clips,
            inputs=[] if inputs is None else inputs, roots=[] if roots is None else roots,
            missing_roots=[] if missing_roots is None else missing_roots, probe_measurements=probe_measurements,
        )

    def rows_per_codec(self) -> dict[str, int]:
        counts = np.bincount(self.codec.astype(np.int64), minlength=len(SUPPORTED_CODECS))
        return {name: int(counts[i]) for i, name in enumerate(SUPPORTED_CODECS)}

    def for_codec(self, codec: str, probe_quality: float | None = None) -> CodecData:
        """The codec's training table, with probe inputs as the harness measures them at ``probe_quality``."""
        probe_quality = PROBE_QUALITY[codec] if probe_quality is None else probe_quality
        mask = self.codec == CODEC_INDEX[codec]
        provenance = _provenance(np.bincount(self.file_index[mask], minlength=len(self.files)), self.files,
                                 self.inputs)
        raw, probe, ladders = self._with_probes(codec, mask, probe_quality)
        self._probe_counts[codec, float(probe_quality)] = probe
        return CodecData(
            codec=codec,
            features=project_features(raw),
            target=self.target[mask].astype(np.float32),
            sources=codes.decode(self.source_codes[mask], self.source_names),
            provenance=provenance,
            n_generated=int(self.generated[mask].sum()),
            observed=observed_inputs(raw),
            probe=probe,
            probe_quality=float(probe_quality),
            encode_kbps=raw[:, RAW_COLUMNS.index("bitrate_kbps")].astype(np.float32),
            ladders=ladders, quality_stated=~np.isnan(raw[:, RAW_COLUMNS.index("crf")]))

    def probe_counts(self, probe_quality: Mapping[str, float] | None = None) -> ProbeCounts:
        """Rows by the origin of their probe inputs, over every codec (for the report);
        ``probe_quality`` holds the operator's per-codec overrides."""
        total = ProbeCounts()
        for codec in np.unique(self.codec).tolist():
            name = SUPPORTED_CODECS[codec]
            mask = self.codec == codec
            quality = float((probe_quality or {}).get(name, PROBE_QUALITY[name]))
            if (name, quality) not in self._probe_counts:
                self._probe_counts[name, quality] = self._with_probes(name, mask, quality)[1]
            total += self._probe_counts[name, quality]
        return total

    def _with_probes(self, codec: str, mask: np.ndarray,
                     probe_quality: float) -> tuple[np.ndarray, ProbeCounts, np.ndarray]:
        """One codec's raw rows (``mask``) with their probe inputs (trainer.ingest.probes), the harness's
        measured probes first where the run trains on them; and each row's ladder id."""
        raw, source_codes = take_rows(self.raw, mask), self.source_codes[mask]
        if self.probe_measurements is not None:
            raw = self.probe_measurements.as_explicit(raw, codes.decode(source_codes, self.source_names), codec,
                                                      probe_quality, PROBE_PRESET[codec])
        return derive_probe_inputs(raw, source_codes, self.preset_codes[mask], self.preset_names, probe_quality,
                                   PROBE_PRESET[codec], in_place=True)  # raw is this call's own copy


def _provenance(file_counts: np.ndarray, files: list[str], inputs: list[InputFile]) -> list[dict[str, object]]:
    """Rows per file that has any, with the size and hash that identify the file on any machine."""
    known = {info.path: info for info in inputs}
    provenance = []
    for i, n in enumerate(file_counts):
        if n > 0:
            entry: dict[str, object] = {"path": files[i], "rows": int(n)}
            if files[i] in known:
                entry.update(bytes=known[files[i]].bytes, sha256=known[files[i]].sha256)
            provenance.append(entry)
    return provenance


def load_corpus(
    files: Sequence[Path], roots: Sequence[str] = (), missing_roots: Sequence[str] = (), workers: int = 1,
    probe_measurements: HarnessProbes | None = None,
) -> Corpus:
    """Parse every file once; an unreadable file is recorded and the rest still load.

    ``probe_measurements``: the harness's probe per clip, trained on as explicit probe inputs."""
    chunks: list[ParsedChunk] = []
    inputs: list[InputFile] = []
    unreadable = Rejections()
    for path in files:
        try:
            chunk, info = read_corpus_file(Path(path), workers)
        except OSError as exc:
            unreadable.unreadable_files.append(f"{path}: {exc.strerror or exc}")
            continue
        chunks.append(chunk)
        inputs.append(info)
    corpus = Corpus.from_chunks(chunks, inputs=inputs, roots=list(roots), missing_roots=list(missing_roots),
                                probe_measurements=probe_measurements)
    corpus.rejections.merge(unreadable)
    return corpus
