"""Scale-out on real Dask clusters: a LocalCluster of worker processes, and a scheduler plus two
workers started by hand as an operator would, one of them SIGKILLed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_corpus
from tests.hand_cluster import DASK, REPO, start_logged, start_scheduler, stop_groups
from trainer.run.cli import main as trainer_main

pytestmark = pytest.mark.slow  # starts real Dask clusters and runs whole batches on them

PLAN = {"libx264": (6, 16, 0.5), "h264_amf": (6, 16, 4.0), "libvvenc": (3, 10, 0.5)}


def _run(tmp_path: Path, name: str, corpus: Path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / name
    code = trainer_main(["--corpus", str(corpus), "--codec", "libx264", "--codec", "h264_amf", "--codec",
                         "libvvenc", "--out-dir", str(out), "--epochs", "20", "--workers", "2", *extra])
    return code, json.loads((out / "report.json").read_text())


def _folds(report: dict) -> dict[str, list[float]]:
    return {c["codec"]: [f["plcc"] for f in c["folds"]] for c in report["codecs"]}


def test_a_local_cluster_gives_the_process_pools_verdicts_and_fold_plcc(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.jsonl", PLAN)
    pool_code, pool = _run(tmp_path, "pool", corpus)
    dask_code, dask = _run(tmp_path, "dask", corpus, "--scheduler", "local:2")
    assert dask_code == pool_code
    assert [c["status"] for c in dask["codecs"]] == [c["status"] for c in pool["codecs"]]
    for codec, plccs in _folds(pool).items():
        assert _folds(dask)[codec] == pytest.approx(plccs, abs=1e-4)
    executor = dask["run_provenance"]["executor"]
    assert executor["kind"] == "dask" and executor["workers"] == 2 and executor["threads"] == 2
    assert executor["scheduler"].startswith("local:2 (tcp://127.0.0.1:")
    assert pool["run_provenance"]["executor"] == {"kind": "process-pool", "workers": 2}


def test_an_unreachable_scheduler_is_exit_2_within_the_connect_timeout(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.jsonl", {"libx264": (6, 6, 0.5)})
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "trainer", "--corpus", str(corpus), "--out-dir",
                           str(tmp_path / "runs"), "--scheduler", "tcp://127.0.0.1:9", "--scheduler-timeout", "2"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and time.monotonic() - started < 15
    [line] = done.stderr.strip().splitlines()
    assert "cannot reach Dask scheduler tcp://127.0.0.1:9 within 2 s" in line
    assert not (tmp_path / "runs" / "report.json").exists()


def test_workers_of_another_build_are_refused_before_any_task(monkeypatch):
    from trainer.executors import dask_cluster as cluster

    real = cluster.local_versions()
    monkeypatch.setattr(cluster, "local_versions", lambda: {**real, "project": "0.0.0-other"})
    with pytest.raises(cluster.ClusterUnavailable, match="another build"):
        cluster.connect("local:1")


def test_a_hand_started_cluster_runs_every_task_and_survives_a_killed_worker(tmp_path):
    from distributed import Client

    # Idle and death time-outs: should this test itself be killed (its finally never runs), the
    # scheduler and workers it started in their own sessions still end on their own.
    scheduler, address = start_scheduler(tmp_path, idle_timeout="300s")
    processes = [scheduler]
    try:
        for n in range(2):
            processes.append(start_logged([str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard",
                                     "--death-timeout", "30", "--name", f"w{n}"], tmp_path / f"worker{n}.log"))
        observer = Client(address, timeout="30s")
        observer.wait_for_workers(2, timeout=60)
        # Two codecs, 50 epochs: a fold task still outlives the poll that finds it (about 2 s on one worker
        # thread); four codecs at 150 epochs only added training after the kill (15 s of this test's 24).
        corpus = write_corpus(tmp_path / "corpus.jsonl", {"libx264": (8, 40, 0.5), "libx265": (8, 40, 0.5)})
        out = tmp_path / "runs"
        batch = subprocess.Popen([sys.executable, "-m", "trainer", "--corpus", str(corpus), "--out-dir", str(out),
                                  "--epochs", "50", "--scheduler", address], cwd=REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        while not observer.processing() or not any(observer.processing().values()):
            assert batch.poll() is None, batch.communicate()
            time.sleep(0.05)
        busy = next(worker for worker, tasks in observer.processing().items() if tasks)
        worker_pid = observer.run(os.getpid, workers=[busy])[busy]
        os.kill(worker_pid, signal.SIGKILL)  # mid-task: Dask must re-run it elsewhere
        stdout, stderr = batch.communicate(timeout=300)
        assert batch.returncode in (0, 1), stderr
        assert (out / "report.json").exists(), stderr
        report = json.loads((out / "report.json").read_text())
        assert [c["status"] for c in report["codecs"] if c["status"] == "error"] == []
        assert [len(c["folds"]) for c in report["codecs"] if c["codec"] in ("libx264", "libx265")] == [5, 5]
        prefixes = observer.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
        assert "run_with_arrays" in prefixes
        observer.close()
    finally:
        stop_groups(processes, signal.SIGTERM)
