"""Faults on real local Dask clusters: a lost scattered table, cancel and supersede reaching the
cluster, tables released when their job ends, a late worker of another build, a killed batch."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_corpus
from tests.dask_helpers import SlowTask, slow_sum
from tests.hand_cluster import DASK, REPO, start_logged, start_scheduler, stop_groups
from trainer.engine.engine import TrainingEngine
from trainer.executors.dask_cluster import connect
from trainer.executors.dask_executor import DaskExecutor
from trainer.ingest.synthetic import synthetic_codec_data
from trainer.learning.profiles import DEFAULT_PROFILE

pytestmark = pytest.mark.slow  # starts real Dask clusters and kills their processes


def _until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.05)


def _scheduler_keys(client) -> set[str]:
    return set(client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks]))


def test_a_lost_table_is_scattered_again_once_and_never_on_dasks_callback_thread():
    executor = DaskExecutor(connect("local:1"))
    client = executor.cluster.client
    scatters: list[str] = []
    real_scatter = client.scatter

    def counting_scatter(*args, **kwargs):
        scatters.append(threading.current_thread().name)
        return real_scatter(*args, **kwargs)

    client.scatter = counting_scatter
    try:
        features, target = np.arange(28, dtype=np.float32).reshape(2, 14), np.ones(2, dtype=np.float32)
        futures = [executor.submit(slow_sum, SlowTask(i, features, target)) for i in range(6)]
        _until(lambda: any(client.processing().values()), 20, "a task to start")
        [pid] = client.run(os.getpid).values()
        os.kill(pid, signal.SIGKILL)  # the only copy of the table dies with it; the nanny starts a fresh worker
        results = sorted(f.result(timeout=60) for f in futures)
    finally:
        executor.shutdown(cancel_futures=True)
    assert results == [(i, float(features.sum() + target.sum())) for i in range(6)]
    assert len(scatters) == 2, scatters  # the first scatter, and one more for the lost table (not one per task)
    assert not any(name.startswith("Dask-Callback-Thread") for name in scatters), scatters


def _long_engine(events: list, executor_box: list) -> TrainingEngine:
    def factory():
        executor_box.append(DaskExecutor(connect("local:1")))
        return executor_box[-1]

    return TrainingEngine(replace(DEFAULT_PROFILE, epochs=3000), seed=0, emit=events.append,
                          executor_factory=factory, workers=64)


@pytest.mark.parametrize("how", ["cancel", "supersede"])
def test_cancel_and_supersede_cancel_the_jobs_tasks_on_the_cluster_and_release_its_table(how):
    events: list = []
    box: list[DaskExecutor] = []
    engine = _long_engine(events, box)
    try:
        engine.submit("libx264", lambda: synthetic_codec_data("libx264", 6, 10, 0.5, 0))
        engine.step(0.0)
        executor = box[0]
        client = executor.cluster.client
        _until(lambda: any(client.processing().values()), 20, "a fold task to start")
        first_job = {str(remote.key) for remote in executor._outstanding.values()}
        assert first_job and len(executor.tables) == 1
        if how == "cancel":
            assert engine.cancel("libx264")
        else:
            engine.submit("libx264", lambda: synthetic_codec_data("libx264", 6, 10, 0.5, 1))
            engine.step(0.0)  # opens the new job: the old one is superseded
        _until(lambda: not first_job & _scheduler_keys(client), 10, "the old job's tasks to leave the cluster")
        if how == "cancel":
            _until(lambda: not engine.step(0.05), 10, "the cancelled job to end")
            assert len(executor.tables) == 0
            _until(lambda: not _scheduler_keys(client), 10, "the scattered table to be freed")
        else:
            # The old job's table is released when the engine collects its cancelled futures, as the
            # console's serving thread does: the wait steps the engine, or nothing would collect
            # them (the step that superseded the job saw them done only if Dask's callback thread
            # had already settled them: 1 run in 4 it had not, and the wait timed out).
            _until(lambda: engine.step(0.05) and len(executor.tables) == 1 and all(
                remote.key not in first_job for remote in executor._outstanding.values()), 10,
                "only the new job's table to remain")
    finally:
        engine.close(kill=True)


def test_a_finished_job_releases_its_scattered_table():
    events: list = []
    box: list[DaskExecutor] = []
    engine = TrainingEngine(replace(DEFAULT_PROFILE, epochs=5), seed=0, emit=events.append,
                            executor_factory=lambda: box.append(DaskExecutor(connect("local:1"))) or box[-1],
                            workers=64)
    try:
        engine.submit("libx264", lambda: synthetic_codec_data("libx264", 6, 10, 0.5, 0))
        results = engine.run_until_idle()
        assert len(results["libx264"].folds) == 5
        assert len(box[0].tables) == 0
        client = box[0].cluster.client
        _until(lambda: not _scheduler_keys(client), 10, "the cluster to forget the table")
    finally:
        engine.close(kill=True)


def test_a_late_worker_of_another_build_is_closed_named_and_gets_no_task(tmp_path):
    cluster = connect("local:1")
    lines: list[str] = []
    cluster.on_refusal(lines.append)
    address = cluster.local_cluster.scheduler_address
    late = subprocess.Popen([str(DASK), "worker", address, "--nthreads", "2", "--no-dashboard", "--name", "late-other",
                             "--death-timeout", "20", "--preload", str(REPO / "tests" / "dask_other_build.py")],
                            cwd=REPO, stdout=(tmp_path / "late.log").open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    executor = DaskExecutor(cluster)
    try:
        _until(lambda: lines, 30, "the refusal line")
        assert "Dask worker late-other (tcp://" in lines[0] and "0.0.0-other-build" in lines[0]
        assert "it was closed and gets no tasks" in lines[0]
        late.wait(timeout=20)  # the worker closed itself, nanny and all
        features, target = np.ones((3, 14), dtype=np.float32), np.zeros(3, dtype=np.float32)
        futures = [executor.submit(slow_sum, SlowTask(i, features, target, 0.05)) for i in range(4)]
        assert sorted(f.result(timeout=30)[0] for f in futures) == [0, 1, 2, 3]
        assert len(cluster.client.scheduler_info()["workers"]) == 1
    finally:
        executor.shutdown(cancel_futures=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(late.pid, signal.SIGKILL)
        late.wait(timeout=10)


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def test_a_killed_batch_leaves_no_local_cluster_process_behind(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.jsonl", {"libx264": (8, 40, 0.5), "libx265": (8, 40, 0.5)})
    batch = subprocess.Popen([sys.executable, "-m", "trainer", "--corpus", str(corpus), "--out-dir",
                              str(tmp_path / "runs"), "--epochs", "3000", "--scheduler", "local:2"],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    group: list[int] = []
    try:
        def children() -> list[int]:
            found = subprocess.run(["pgrep", "-g", str(batch.pid)], capture_output=True, text=True).stdout.split()
            return [int(pid) for pid in found if int(pid) != batch.pid]

        def workers() -> list[int]:
            return [pid for pid in children() if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]

        _until(lambda: len(workers()) >= 2, 60, "the local cluster's two workers")
        time.sleep(3)  # fold tasks are on the workers now
        group = children()
        os.kill(batch.pid, signal.SIGKILL)
        batch.wait(timeout=10)
        deadline = time.monotonic() + 10  # every process of it ends within 10 s (measured: about 2)
        while _alive(group) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _alive(group) == [], subprocess.run(["ps", "-o", "pid,cmd", "-p", ",".join(map(str, group))],
                                                   capture_output=True, text=True).stdout
    finally:
        for pid in _alive(group):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_batch_whose_scheduler_disappears_ends_with_a_report_naming_it(tmp_path):
    import json

    # Idle and death time-outs: should this test itself be killed, what it started still ends on its own.
    scheduler, address = start_scheduler(tmp_path, idle_timeout="120s")
    processes = [scheduler]
    try:
        processes.append(start_logged([str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard",
                                 "--death-timeout", "10"], tmp_path / "worker.log"))
        corpus = write_corpus(tmp_path / "corpus.jsonl", {"libx264": (8, 40, 0.5), "libx265": (8, 40, 0.5)})
        out = tmp_path / "runs"
        batch = subprocess.Popen([sys.executable, "-m", "trainer", "--corpus", str(corpus), "--out-dir", str(out),
                                  "--epochs", "3000", "--scheduler", address], cwd=REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, start_new_session=True)
        processes.append(batch)
        _until(lambda: list(out.glob("train_*.log")) and "libx265: queued" in next(out.glob("train_*.log")).read_text(),
               60, "both codecs to be queued")
        time.sleep(1)
        os.killpg(scheduler.pid, signal.SIGKILL)
        _, stderr = batch.communicate(timeout=60)
        # It stayed gone past --scheduler-timeout: the environment failed, exit 2 and one line of ours
        # (Dask's own log line "Failed to reconnect to scheduler" may precede it).
        assert batch.returncode == 2, stderr
        [line] = [line for line in stderr.splitlines() if line.startswith("python -m trainer: ")]
        assert line.startswith(f"python -m trainer: error: cluster unavailable: lost the connection to the "
                               f"Dask scheduler {address} (client "), line
        assert "Traceback" not in stderr
        report = json.loads((out / "report.json").read_text())
        errors = {c["codec"]: c["failure_reasons"] for c in report["codecs"] if c["status"] == "error"}
        assert set(errors) == {"libx264", "libx265"}
        for [reason] in errors.values():
            assert reason.startswith(f"SchedulerLost: lost the connection to the Dask scheduler {address} (client ")
            assert reason.endswith("): its tasks are gone")
        verdict = [line for line in next(out.glob("train_*.log")).read_text().splitlines() if "-> exit" in line]
        assert verdict and verdict[-1].endswith("-> exit 2")  # the log says what the process returned
    finally:
        stop_groups(processes, signal.SIGKILL)


def test_a_worker_lost_while_the_worker_plugin_is_registered_costs_the_batch_nothing(tmp_path):
    """Was: exit 70, ``CommClosedError: in <TCP (closed) ConnectionPool.register_worker_plugin ...>:
    Stream is closed``. One of two workers dies as the plugin reaches it; the run goes on, on the other."""
    import json

    scheduler, address = start_scheduler(tmp_path, idle_timeout="120s")
    processes = [scheduler]
    try:
        processes.append(start_logged([str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard",
                                       "--death-timeout", "30"], tmp_path / "worker.log"))
        processes.append(start_logged([str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard",
                                       "--no-nanny", "--death-timeout", "30", "--preload",
                                       str(REPO / "tests" / "dask_dies_mid_call.py")], tmp_path / "dying.log"))
        from distributed import Client

        with Client(address, timeout="30s") as probe:
            probe.wait_for_workers(2, timeout=60)
        corpus = write_corpus(tmp_path / "corpus.jsonl", {"libx264": (6, 20, 0.5), "libx265": (6, 20, 0.5)})
        out = tmp_path / "runs"
        batch = subprocess.run([sys.executable, "-m", "trainer", "--corpus", str(corpus), "--out-dir", str(out),
                                "--model-dir", str(tmp_path / "model"), "--epochs", "20", "--scheduler", address,
                                "--codec=libx264", "--codec=libx265"],
                               cwd=REPO, capture_output=True, text=True, timeout=180, start_new_session=True)
        assert batch.returncode in (0, 1), batch.stderr
        assert "Traceback" not in batch.stderr + batch.stdout and batch.stderr.strip() == ""
        assert processes[-1].wait(timeout=10) == -signal.SIGKILL  # the worker did die mid-call
        report = json.loads((out / "report.json").read_text())
        assert report["summary"]["error"] is None
        assert {c["codec"]: c["status"] in ("pass", "fail") for c in report["codecs"]} == {"libx264": True,
                                                                                          "libx265": True}
    finally:
        stop_groups(processes, signal.SIGKILL)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_scheduler_that_drops_and_comes_back_within_the_timeout_costs_nothing(tmp_path):
    """The scheduler is killed mid-run and started again on its address, with a worker: the client
    reconnects within --scheduler-timeout and every task that went with the old scheduler is sent again."""
    import json

    port = _free_port()
    argv = [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
            "--idle-timeout", "120s"]
    address = f"tcp://127.0.0.1:{port}"
    processes = [start_logged(argv, tmp_path / "scheduler.log")]
    try:
        processes.append(start_logged([str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard",
                                       "--death-timeout", "60"], tmp_path / "worker.log"))
        corpus = write_corpus(tmp_path / "corpus.jsonl", {"libx264": (6, 20, 0.5), "libx265": (6, 20, 0.5)})
        out = tmp_path / "runs"
        batch = subprocess.Popen([sys.executable, "-m", "trainer", "--corpus", str(corpus), "--out-dir", str(out),
                                  "--model-dir", str(tmp_path / "model"), "--epochs", "150", "--scheduler", address,
                                  "--scheduler-timeout", "30", "--codec=libx264", "--codec=libx265"],
                                 cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 start_new_session=True)
        processes.append(batch)
        _until(lambda: list(out.glob("train_*.log")) and "libx265: queued" in next(out.glob("train_*.log")).read_text(),
               60, "both codecs to be queued")
        time.sleep(1)
        os.killpg(processes[0].pid, signal.SIGKILL)
        processes[0].wait(timeout=10)
        time.sleep(1)
        # Back on its address, as a supervisor restarts it; Dask workers close when their scheduler goes,
        # so the supervisor starts a worker again too.
        processes.append(start_logged(argv, tmp_path / "scheduler-again.log"))
        processes.append(start_logged([str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard",
                                       "--death-timeout", "60"], tmp_path / "worker-again.log"))
        stdout, stderr = batch.communicate(timeout=240)
        assert batch.returncode in (0, 1), stderr
        assert "Traceback" not in stderr + stdout
        report = json.loads((out / "report.json").read_text())
        assert report["summary"]["error"] is None
        assert {c["codec"]: c["status"] in ("pass", "fail") for c in report["codecs"]} == {"libx264": True,
                                                                                          "libx265": True}
    finally:
        stop_groups(processes, signal.SIGKILL)
