"""The generated corpora the benchmark runs on: deterministic, written once under its work directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import orjson

from trainer.core.codecs import SUPPORTED_CODECS
from trainer.ingest.synthetic import synthetic_rows


def codec_noise(codec: str) -> float:
    """Measurement noise per codec family: hardware encoders are noisier, as in the anchors."""
    if codec.endswith("_amf"):
        return 4.0
    if codec.endswith("_qsv"):
        return 2.0
    return 0.7


def write_bench_corpus(path: Path, n_sources: int, rows_per_source: int, codecs: Sequence[str] = SUPPORTED_CODECS,
                       seed: int = 11) -> Path:
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        for codec in codecs:
            rows = synthetic_rows(codec, n_sources, rows_per_source, codec_noise(codec), seed, mark_generated=False)
            handle.writelines(orjson.dumps(row) + b"\n" for row in rows)
    tmp.replace(path)
    return path
