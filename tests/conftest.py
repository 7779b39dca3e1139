"""Shared fixtures: small generated corpora on disk, written the way an ingest would write them."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from trainer.ingest.synthetic import synthetic_rows


def write_corpus(path: Path, plan: dict[str, tuple[int, int, float]], seed: int = 7, extra: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        orjson.dumps(r)
        for codec, (s, n, sigma) in plan.items()
        for r in synthetic_rows(codec, s, n, sigma, seed, mark_generated=False)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n" + extra)
    return path


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Two trainable codecs, one with too few sources; tiny so real training stays fast."""
    return write_corpus(
        tmp_path / "corpora" / "ingest" / "small.jsonl",
        {"libx264": (6, 12, 0.5), "h264_amf": (6, 12, 8.0), "libvvenc": (3, 10, 0.5)},
    )


@pytest.fixture
def one_torch_thread():
    """As ``python -m trainer.stubs`` trains (and fast on a busy machine, where threads contend)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
