"""Group ids from one int64 key per row must number groups exactly as a sort over every column would."""

import numpy as np
import pytest

from trainer.ingest import ladders
from trainer.ingest.layout import take_rows


def _by_unique(columns):
    stacked = np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])
    return np.unique(stacked, axis=0, return_inverse=True)[1].reshape(-1)


@pytest.mark.parametrize("kind", ["codes and whole numbers", "fractional", "huge and negative", "too wide"])
def test_group_ids_number_groups_in_key_order(kind, monkeypatch):
    rng = np.random.default_rng(7)
    n = 5000
    source = rng.integers(0, 40, n).astype(np.int32)
    width = rng.choice([-1.0, 640.0, 1280.0, 1920.0, 3840.0], n)
    fps = rng.choice([23.976, 24.0, 29.97, 60.0, -1.0], n)
    if kind == "huge and negative":
        width = rng.choice([-1.0, 1e300, -5e20, 2.0**63, 720.0], n)  # out of int64: ranked, not cast
    if kind == "too wide":
        monkeypatch.setattr(ladders, "MAX_KEY_SPAN", 8)  # every key overflows: the column sort decides
    columns = [source, width, fps] if kind != "codes and whole numbers" else [source, width]
    got = ladders.group_ids(columns)
    assert np.array_equal(got, _by_unique(columns))
    if kind != "too wide":
        assert ladders.mixed_radix(columns) is not None


def test_take_rows_is_column_major_and_equal_to_a_row_mask():
    raw = np.asfortranarray(np.random.default_rng(1).normal(size=(300, 19)))
    mask = np.random.default_rng(2).random(300) < 0.4
    for table in (raw, np.ascontiguousarray(raw)):
        rows = take_rows(table, mask)
        assert rows.flags.f_contiguous
        assert np.array_equal(rows, raw[mask])
