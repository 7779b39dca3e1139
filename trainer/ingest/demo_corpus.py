"""The bundled demo corpus: generated, deterministic, and built to show every verdict.

``python -m trainer.ingest.demo_corpus`` rewrites ``trainer/data/demo_corpus.jsonl``. Some codecs
have clean multi-source data and pass; one is too noisy and fails the gate honestly; one has
too few sources; the rest have no rows. A handful of broken lines exercise rejection counting.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from trainer.core.atomic import atomic_write_bytes
from trainer.ingest.synthetic import synthetic_rows

DEMO_CORPUS_PATH = Path(__file__).resolve().parents[1] / "data" / "demo_corpus.jsonl"
DEMO_SEED = 2026

# codec: (sources, rows per source, noise sigma in VMAF points)
DEMO_PLAN: dict[str, tuple[int, int, float]] = {
    "libx264": (15, 48, 0.3),
    "libx265": (15, 48, 0.3),
    "libsvtav1": (15, 48, 0.3),
    "hevc_nvenc": (15, 48, 0.3),
    "h264_amf": (15, 48, 6.0),
    "av1_nvenc": (6, 20, 2.0),
    "libvvenc": (3, 40, 0.3),
}

BROKEN_LINES: tuple[bytes, ...] = (
    b'{"src": "broken", "encoder": "libx264", "crf": 23, "vmaf_score": 91.2',
    b'{"src": "demo_exit", "encoder": "libx264", "crf": 30, "vmaf_score": 80.0, "exit_status": 1}',
    b'{"src": "demo_unknown", "encoder": "libx266", "crf": 30, "vmaf_score": 80.0, "exit_status": 0}',
    b'{"src": "demo_range", "encoder": "libx265", "crf": 30, "vmaf_score": 180.0, "exit_status": 0}',
    b'{"src": "demo_type", "encoder": "libx265", "crf": "thirty", "vmaf_score": 80.0, "exit_status": 0}',
)


def demo_corpus_bytes() -> bytes:
    lines: list[bytes] = []
    for codec, (sources, rows, sigma) in DEMO_PLAN.items():
        lines.extend(orjson.dumps(row) for row in synthetic_rows(codec, sources, rows, sigma, DEMO_SEED))
    lines.extend(BROKEN_LINES)
    return b"\n".join(lines) + b"\n"


def main() -> int:
    atomic_write_bytes(DEMO_CORPUS_PATH, demo_corpus_bytes())
    print(f"wrote {DEMO_CORPUS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
