"""A run that cannot finish still leaves its evidence (issue #36): the memory limit comes from the cgroup or the
machine, a run near it stops with exit 2 and one line, and verdicts are on disk before the kernel could kill it."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_corpus
from trainer.run.memory_guard import MemoryGuard, MemoryLimit, cgroup_limits, memory_limits, tree_rss
from trainer.run.progress import BatchProgress

REPO = Path(__file__).resolve().parents[1]


def test_cgroup_v1_and_v2_limits_are_read_with_their_own_usage(tmp_path):
    root = tmp_path / "sys"
    v1 = root / "memory" / "runs" / "one"
    v2 = root / "unified" / "user.slice"
    for directory in (v1, v2):
        directory.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text("1073741824\n")
    (v1 / "memory.usage_in_bytes").write_text("536870912\n")
    (v2 / "memory.max").write_text("2147483648\n")
    (v2 / "memory.current").write_text("1000\n")
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/runs/one\n3:cpu:/\n0::/user.slice\n")
    limits = sorted(cgroup_limits(proc, root), key=lambda limit: limit.limit)
    assert [(limit.limit, limit.usage()) for limit in limits] == [(1 << 30, 1 << 29), (1 << 31, 1000)]
    assert "memory.limit_in_bytes" in limits[0].source and "memory.max" in limits[1].source


def test_no_limit_and_max_mean_unlimited(tmp_path):
    v1 = tmp_path / "memory"
    v1.mkdir()
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (v1 / "memory.usage_in_bytes").write_text("1\n")
    (tmp_path / "memory.max").write_text("max\n")
    (tmp_path / "memory.current").write_text("1\n")
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/\n0::/\n")
    assert cgroup_limits(proc, tmp_path) == []


def test_the_machine_is_always_one_of_the_limits():
    limits = memory_limits()
    assert any("MemTotal" in limit.source for limit in limits)
    assert all(limit.limit > 0 and limit.usage() > 0 for limit in limits)


def test_the_guard_stops_once_near_a_limit_and_names_the_stage():
    calls: list[str] = []
    progress = BatchProgress(lambda _line: None)
    progress.stage("training")
    tight = MemoryLimit(tree_rss(), "a test limit", tree_rss)  # this process alone already exceeds 90 % of it
    with MemoryGuard(calls.append, progress.describe, [tight], poll_s=0.01):
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
    assert len(calls) == 1
    assert calls[0].startswith("out of memory: training used ") and "allowed by a test limit" in calls[0]
    roomy = MemoryLimit(1 << 50, "plenty", tree_rss)
    assert MemoryGuard(calls.append, progress.describe, [roomy]).check() is None


def _torch_address_space() -> int:
    """The virtual size of a process that has imported torch: what every pool worker starts at."""
    code = ("import torch, pathlib; print(next(int(l.split()[1]) for l in "
            "pathlib.Path('/proc/self/status').read_text().splitlines() if l.startswith('VmSize:')) * 1024)")
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


@pytest.mark.slow
def test_a_batch_under_a_memory_limit_below_its_need_ends_exit_2_with_one_line_and_a_report(tmp_path):
    """ulimit -v (RLIMIT_AS) with room for torch but not for a 60,000-row table's training."""
    corpus = write_corpus(tmp_path / "big.jsonl", {"libx264": (300, 200, 0.7)})
    limit = _torch_address_space() + 150 * 2**20

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)

    out = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "trainer", "--corpus", str(corpus), "--out-dir", str(out), "--model-dir",
         str(tmp_path / "model"), "--codec", "libx264", "--workers", "2"],
        capture_output=True, text=True, timeout=240, cwd=REPO, preexec_fn=cap, start_new_session=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m trainer: error: out of memory: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert "out of memory" in report["summary"]["error"]
    assert [c["codec"] for c in report["codecs"]] == ["libx264"]


@pytest.mark.slow
def test_a_batch_killed_after_its_first_verdict_leaves_a_report_with_that_verdict(tmp_path):
    """SIGKILL cannot be caught: the report written at each verdict is what survives."""
    corpus = write_corpus(tmp_path / "corpus.jsonl", {"libx264": (8, 30, 0.5), "h264_amf": (10, 400, 4.0)})
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainer", "--corpus", str(corpus), "--out-dir", str(out), "--model-dir",
         str(tmp_path / "model"), "--codec", "libx264", "--codec", "h264_amf", "--workers", "1", "--epochs", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, start_new_session=True)
    try:
        for line in proc.stdout:
            if line.startswith(("libx264: PASS", "libx264: FAIL")):
                break
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["in_progress"] is True
    statuses = {c["codec"]: c for c in report["codecs"]}
    assert statuses["libx264"]["status"] in ("pass", "fail") and len(statuses["libx264"]["folds"]) == 5
    assert statuses["h264_amf"]["status"] == "error"
    assert statuses["h264_amf"]["failure_reasons"][0].startswith("pending: ")
    assert statuses["h264_amf"]["n_rows_total"] == 4000


def test_progress_lines_name_the_stage_and_the_share_judged():
    from trainer.learning.events import CodecQueued

    lines: list[str] = []
    progress = BatchProgress(lines.append, every_s=0.02)
    progress.on_event(CodecQueued("libx264", 1_000_000, 5000, 5))
    progress.stage("training")
    with progress:
        time.sleep(0.2)
    assert lines and all(line.startswith("progress: training: 0 of 5 folds judged (0%), 0 of 1 codecs; largest "
                                         "table libx264 with 1,000,000 rows (") for line in lines)
    assert progress.sizes == {"libx264": (1_000_000, 5000)}
