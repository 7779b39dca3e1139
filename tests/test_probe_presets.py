"""The preset is part of the ladder key, and the probe comes from the harness's probe-preset ladder."""

import json

import numpy as np
import pytest

from trainer.core.features import RAW_INDEX
from trainer.ingest.corpus import load_corpus
from trainer.ingest.live import IncrementalCorpus
from trainer.ingest.parsing import parse_lines
from trainer.learning.events import CodecQueued
from trainer.outputs.describe import codec_notes, describe_event

PROBE = RAW_INDEX["probe_bitrate_kbps"]
CRFS = (20, 24, 28, 32, 36)


def _rows(src: str, preset: str | None, kbps_at_28: float, **extra: object) -> list[dict[str, object]]:
    rows = []
    for crf in CRFS:
        row: dict[str, object] = {"src": src, "encoder": "libx264", "crf": crf, "width": 1280, "height": 720,
                                  "framerate": 30, "bitrate_kbps": round(kbps_at_28 * np.exp(-0.11 * (crf - 28)), 6),
                                  "vmaf_score": 128 - 1.5 * crf, "exit_status": 0, **extra}
        if preset is not None:
            row["preset"] = preset
        rows.append(row)
    return rows


def _jsonl(rows: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def test_the_medium_ladder_gets_the_ultrafast_ladders_crf_28_bitrate(tmp_path):
    path = tmp_path / "two_presets.jsonl"
    path.write_bytes(_jsonl(_rows("clip", "medium", 900.0) + _rows("clip", "ultrafast", 2700.0)
                            + _rows("other", "medium", 400.0)))
    corpus = load_corpus([path])
    data = corpus.for_codec("libx264")
    assert list(corpus.presets[:1]) == ["medium"]
    assert np.allclose(data.features[:10, PROBE], 2700.0)  # both ladders of "clip": the harness's ultrafast probe
    assert np.allclose(data.features[10:, PROBE], 400.0)  # "other" has no ultrafast ladder: its own at CRF 28
    assert data.probe.as_report() == {"from_ladder": 5, "from_probe_preset": 10, "explicit": 0, "own_encode": 0,
                                      "sizes_withheld": 0, "sizes_unverified": 0}
    assert corpus.probe_counts() == data.probe
    lower = corpus.for_codec("libx264", probe_quality=24)  # an override moves the probe along the ladder
    assert np.allclose(lower.features[:10, PROBE], 2700.0 * np.exp(0.44), rtol=1e-5)
    assert lower.probe_quality == 24


def test_without_a_preset_column_one_source_is_one_ladder_as_before(tmp_path):
    path = tmp_path / "no_presets.jsonl"
    path.write_bytes(_jsonl(_rows("clip", None, 900.0)))
    data = load_corpus([path]).for_codec("libx264")
    assert np.allclose(data.features[:, PROBE], 900.0)
    assert data.probe.from_ladder == 5 and data.probe.from_probe_preset == 0


def test_presets_named_by_number_are_kept_and_other_types_are_rejected():
    row = _rows("clip", None, 900.0)[0]
    lines = [json.dumps({**row, "preset": 8}).encode(), json.dumps({**row, "preset": ["fast"]}).encode()]
    chunk = parse_lines(lines, "c.jsonl")
    assert chunk.presets == ["8"]
    assert chunk.rejections.examples["wrong-value-type"] == ["c.jsonl:2: wrong-value-type: preset is list"]


def test_frames_of_two_presets_stay_two_clips(tmp_path):
    frames = [{**row, "frame_index": i} for row in _rows("clip", "medium", 900.0)[:1]
              + _rows("clip", "ultrafast", 900.0)[:1] for i in range(3)]
    path = tmp_path / "frames.jsonl"
    path.write_bytes(_jsonl(frames))
    corpus = load_corpus([path])
    assert corpus.clips == 2 and sorted(corpus.presets) == ["medium", "ultrafast"]


def test_live_ingest_rederives_probes_when_the_probe_preset_ladder_arrives_later(tmp_path):
    path = tmp_path / "growing.jsonl"
    medium, fast = _rows("clip", "medium", 900.0), _rows("clip", "ultrafast", 2700.0)
    path.write_bytes(_jsonl(medium[:3]))
    live = IncrementalCorpus()
    live.refresh(str(path))
    assert np.allclose(live.corpus().for_codec("libx264").features[:, PROBE], 900.0)
    with path.open("ab") as handle:  # the rest of the medium ladder, then half a line of ultrafast
        handle.write(_jsonl(medium[3:] + fast[:2]) + _jsonl(fast[2:3])[:10])
    live.refresh(str(path))
    data = live.corpus().for_codec("libx264")
    assert data.n_rows == 7 and np.allclose(data.features[:, PROBE], 2700.0)  # two ultrafast points: a ladder
    with path.open("ab") as handle:
        handle.write(_jsonl(fast[2:3])[10:] + _jsonl(fast[3:]))
    live.refresh(str(path))
    data = live.corpus().for_codec("libx264")
    assert data.n_rows == 10 and np.allclose(data.features[:, PROBE], 2700.0)
    assert data.probe.from_probe_preset == 10
    assert live.summary().rows_accepted == 10


@pytest.mark.parametrize("preset", ["ultrafast", "medium"])
def test_explicit_probe_columns_win_over_the_probe_preset_ladder(tmp_path, preset):
    rows = _rows("clip", "medium", 900.0) + _rows("clip", "ultrafast", 2700.0)
    target = next(r for r in rows if r["preset"] == preset)
    target["probe_bitrate_kbps"] = 1234.0
    path = tmp_path / "explicit.jsonl"
    path.write_bytes(_jsonl(rows))
    data = load_corpus([path]).for_codec("libx264")
    assert sorted(np.round(data.features[:, PROBE], 3).tolist()).count(1234.0) == 1
    assert data.probe.explicit == 1 and data.probe.from_probe_preset == 9


def test_crf_pick_judges_each_presets_ladder_against_its_own_measured_curve(tmp_path):
    from trainer.learning.crf_pick import crf_pick_metrics

    medium = _rows("clip", "medium", 900.0)
    fast = [{**r, "vmaf_score": r["vmaf_score"] - 6.0} for r in _rows("clip", "ultrafast", 2700.0)]
    path = tmp_path / "two_curves.jsonl"
    path.write_bytes(_jsonl(medium + fast))
    data = load_corpus([path]).for_codec("libx264")
    assert np.unique(data.features, axis=0).shape[0] == len(CRFS)  # the inputs cannot tell the presets apart
    assert np.unique(data.ladders).size == 2

    def model(x):  # exactly the medium curve
        return 128.0 - 1.5 * x[:, 0]

    apart = crf_pick_metrics(data.features, data.target, data.encode_kbps, "libx264", model, data.ladders)
    merged = crf_pick_metrics(data.features, data.target, data.encode_kbps, "libx264", model)
    assert apart["n"] == 5 + 3 and merged["n"] == 5  # ultrafast (68..92) spans three targets; merged: one curve
    assert apart["miss_rate"] == 3 / 8  # right on medium, 4 CRF steps too greedy on each ultrafast pick
    assert apart["mean_abs_quality_error"] == pytest.approx(4 * 3 / 8)


def test_the_run_log_says_where_frame_sizes_were_withheld_or_taken_on_trust(tmp_path):
    sizes = {"i_frame_avg_bytes": 40000.0, "p_frame_avg_bytes": 3000.0, "b_frame_avg_bytes": 900.0}
    path = tmp_path / "sized.jsonl"
    path.write_bytes(_jsonl(_rows("clip", "Medium", 900.0, **sizes) + _rows("other", None, 400.0, **sizes)
                            + _rows("third", "ULTRAFAST", 2000.0, **sizes)))
    corpus = load_corpus([path])
    data = corpus.for_codec("libx264")
    notes = "\n".join(codec_notes(data))
    assert "probe frame sizes withheld from 5 rows: their ladder names another preset" in notes
    assert "probe frame sizes of 5 rows come from ladders that name no preset" in notes
    assert data.probe.as_report() == {"from_ladder": 10, "from_probe_preset": 5, "explicit": 0, "own_encode": 0,
                                      "sizes_withheld": 5, "sizes_unverified": 5}  # preset names ignore case
    assert corpus.probe_counts() == data.probe
    event = CodecQueued("libx264", data.n_rows, data.n_sources, 5, data)
    assert describe_event(event).splitlines()[1:] == [f"    {note}" for note in codec_notes(data)]
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(_jsonl(_rows("clip", "medium", 900.0)))  # no frame sizes: nothing to say
    assert codec_notes(load_corpus([plain]).for_codec("libx264")) == ()


def test_a_real_probe_row_keeps_its_own_frame_sizes_and_takes_none_from_its_ladder(tmp_path):
    sizes = {"i_frame_avg_bytes": 40000.0, "p_frame_avg_bytes": 3000.0, "b_frame_avg_bytes": 900.0}
    rows = _rows("clip", None, 900.0, **sizes)
    rows[0].update(probe_bitrate_kbps=2500.0, probe_i_frame_avg_bytes=50000.0)  # the harness's probe, B null
    path = tmp_path / "explicit.jsonl"
    path.write_bytes(_jsonl(rows))
    data = load_corpus([path]).for_codec("libx264")
    column = {name: RAW_INDEX[name] for name in ("probe_bitrate_kbps", "probe_i_frame_avg_bytes")}
    assert data.features[0, column["probe_bitrate_kbps"]] == 2500.0
    assert data.features[0, column["probe_i_frame_avg_bytes"]] == 50000.0
    assert data.features[1, column["probe_i_frame_avg_bytes"]] == pytest.approx(40000.0, rel=1e-5)  # lent
    assert data.probe.explicit == 1 and data.probe.sizes_unverified == 4  # the explicit row is no one's guess
