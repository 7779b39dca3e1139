"""The vectorised probe derivation gives every row exactly the probe inputs the per-ladder one gave.

Random corpora built to hit every rule: several sources, presets (the probe preset under other cases and
spaces, numbered ones, none), resolutions and frame rates with gaps, repeated and missing qualities,
zero and missing bitrates and frame sizes, explicit probes, and the harness's own probe written in.
Compared bit for bit with ``tests/probe_reference.py``, the derivation as it was, ladder by ladder.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from tests.probe_reference import ladder_ids as reference_ladder_ids
from tests.probe_reference import reference_probe_inputs
from trainer.core.codecs import CODEC_INDEX, PROBE_PRESET, PROBE_QUALITY
from trainer.core.features import RAW_COLUMNS, RAW_INDEX, project_features
from trainer.ingest.corpus import load_corpus
from trainer.ingest.harness_probes import HarnessProbe, HarnessProbes
from trainer.ingest.probes import ladder_ids, with_probe_inputs

SOURCES = ("zeta", "Alpha", "alpha", "b-roll", "été", "src_10", "src_9")
PRESETS = ("", "medium", "ultrafast", "Ultrafast", " ultrafast ", "8", "slow")
RESOLUTIONS = ((1920.0, 1080.0), (1280.0, 720.0), (np.nan, np.nan), (640.0, np.nan))
FPS = (24.0, 30.0, np.nan)
QUALITIES = (18.0, 20.0, 23.0, 26.0, 28.0, 28.0, 30.0, 34.0, 40.0, np.nan)
COL = RAW_INDEX


def _random_rows(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n rows in clumps (so ladders have several qualities): raw columns, sources, presets."""
    raw = np.full((n, len(RAW_COLUMNS)), np.nan)
    sources, presets = [], []
    row = 0
    while row < n:
        size = min(n - row, int(rng.integers(1, 9)))
        src, preset = rng.choice(SOURCES), rng.choice(PRESETS)
        width, height = RESOLUTIONS[rng.integers(len(RESOLUTIONS))]
        fps = FPS[rng.integers(len(FPS))]
        level = rng.uniform(200.0, 8000.0)
        for i in range(row, row + size):
            raw[i, [COL["width"], COL["height"], COL["fps"]]] = width, height, fps
            crf = QUALITIES[rng.integers(len(QUALITIES))]
            raw[i, COL["crf"]] = crf
            kbps = level * np.exp(-0.1 * ((28.0 if np.isnan(crf) else crf) - 28.0)) * rng.uniform(0.9, 1.1)
            raw[i, COL["bitrate_kbps"]] = rng.choice([kbps, kbps, kbps, kbps, 0.0, np.nan])
            for name, share in (("i_frame_avg_bytes", 6.0), ("p_frame_avg_bytes", 1.0), ("b_frame_avg_bytes", 0.4)):
                raw[i, COL[name]] = rng.choice([kbps * share, kbps * share, 0.0, np.nan])
            if rng.random() < 0.08:
                raw[i, COL["probe_bitrate_kbps"]] = rng.uniform(100.0, 9000.0)
            if rng.random() < 0.05:
                raw[i, COL["probe_i_frame_avg_bytes"]] = rng.uniform(100.0, 9000.0)
            sources.append(src)
            presets.append(preset)
        row += size
    return raw, np.array(sources), np.array(presets)


def _assert_same(raw: np.ndarray, sources: np.ndarray, presets: np.ndarray | None, quality: float,
                 preset: str | None) -> Counter:
    expected, expected_counts = reference_probe_inputs(raw, sources, quality, presets, preset)
    got, counts = with_probe_inputs(raw, sources, quality, presets, preset)
    np.testing.assert_array_equal(got, expected)  # bit for bit, NaN where NaN
    assert counts == expected_counts
    np.testing.assert_array_equal(ladder_ids(raw, sources, presets), reference_ladder_ids(raw, sources, presets))
    return Counter(counts.as_report())


@pytest.mark.parametrize("seed", range(12))
def test_every_row_gets_the_probe_the_per_ladder_derivation_gave(seed):
    rng = np.random.default_rng(seed)
    raw, sources, presets = _random_rows(rng, int(rng.integers(1, 400)))
    seen: Counter = Counter()
    for quality in (28.0, 25.0, 10.0, 50.0, 23.0, 40):  # on a point, between, below, above every ladder
        for preset in ("ultrafast", "medium", "8", None):
            seen += _assert_same(raw, sources, presets, quality, preset)
        seen += _assert_same(raw, sources, None, quality, "ultrafast")
    if raw.shape[0] > 100:  # the corpus really exercised every origin and both frame-size notes
        assert all(seen[k] > 0 for k in ("from_ladder", "from_probe_preset", "explicit", "own_encode",
                                         "sizes_withheld", "sizes_unverified")), seen


def test_a_ladder_given_another_ladders_probe_is_caught():
    raw, sources, presets = _random_rows(np.random.default_rng(99), 300)
    got, _ = with_probe_inputs(raw, sources, 28.0, presets, "ultrafast")
    bitrate = COL["probe_bitrate_kbps"]
    [moved] = np.flatnonzero(got[:, bitrate] != raw[:, COL["bitrate_kbps"]])[:1]
    tampered = got.copy()
    tampered[moved, bitrate] *= 1.0 + 1e-12  # one row, one ulp-sized slip: the comparison sees it
    expected, _ = reference_probe_inputs(raw, sources, 28.0, presets, "ultrafast")
    assert not np.array_equal(tampered, expected, equal_nan=True)
    assert np.array_equal(got, expected, equal_nan=True)


def test_empty_and_single_row_inputs():
    for n in (0, 1):
        raw, sources, presets = _random_rows(np.random.default_rng(n), n)
        _assert_same(raw.reshape(n, len(RAW_COLUMNS)), sources, presets, 28.0, "ultrafast")


def _json_rows(raw: np.ndarray, sources: np.ndarray, presets: np.ndarray, codec: str, rng: np.random.Generator):
    for values, src, preset in zip(raw.tolist(), sources.tolist(), presets.tolist(), strict=True):
        row: dict[str, object] = {"src": src, "encoder": codec, "vmaf": float(rng.uniform(20.0, 99.0))}
        if preset:
            row["preset"] = preset
        row.update({name: v for name, v in zip(RAW_COLUMNS, values, strict=True) if v == v})
        yield row


def test_a_loaded_corpus_with_harness_probes_matches_the_reference_for_every_codec(tmp_path):
    rng = np.random.default_rng(7)
    files, kept = [], {}
    for k, codec in enumerate(("libx264", "libx265", "libsvtav1")):
        raw, sources, presets = _random_rows(rng, 600)
        path = tmp_path / f"part{k}.jsonl"
        rows = list(_json_rows(raw, sources, presets, codec, rng))
        path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"src": "x", "encoder": "libx264"}\n')
        files.append(path)
        kept[codec] = len(rows)
    by_clip = {(codec, src): HarnessProbe((float(rng.uniform(100, 5000)), 5000.0, 800.0, 0.0),
                                          PROBE_QUALITY[codec] if i % 3 else None, None)
               for codec in kept for i, src in enumerate(SOURCES[:4])}
    harness = HarnessProbes(("h.jsonl",), by_clip)
    for measurements in (None, harness):
        corpus = load_corpus(files, probe_measurements=measurements)
        assert corpus.rejections.counts["missing-target"] == 3
        for codec in kept:
            data = corpus.for_codec(codec)
            mask = corpus.codec == CODEC_INDEX[codec]
            raw, sources = corpus.raw[mask], corpus.sources[mask].astype(str)
            presets = corpus.presets[mask].astype(str)
            if measurements is not None:
                raw = measurements.as_explicit(raw, sources, codec, PROBE_QUALITY[codec], PROBE_PRESET[codec])
            expected, counts = reference_probe_inputs(raw, sources, PROBE_QUALITY[codec], presets, PROBE_PRESET[codec])
            np.testing.assert_array_equal(data.features, project_features(expected))
            assert data.probe == counts
            np.testing.assert_array_equal(data.ladders, reference_ladder_ids(expected, sources, presets))
            np.testing.assert_array_equal(data.sources, sources)
        assert corpus.rows_accepted + corpus.rejections.counts["input-out-of-range"] == sum(kept.values())

