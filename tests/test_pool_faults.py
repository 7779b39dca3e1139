"""Issue 28 on the process pool: a fork server killed while the pool starts workers, and a worker
killed once (its task runs again). A task whose worker keeps dying: tests/test_faults.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import write_corpus
from tests.test_faults import REPO, _busy_pool_worker, _session_processes, _wait_gone

SMALL_PLAN = {"libx264": (6, 20, 0.5), "libx265": (6, 20, 0.5)}


def _batch(tmp_path: Path, plan: dict, epochs: int, workers: int) -> tuple[subprocess.Popen, Path]:
    corpus = write_corpus(tmp_path / "corpus.jsonl", plan)
    out = tmp_path / "runs"
    argv = [sys.executable, "-m", "trainer", "--corpus", str(corpus), "--out-dir", str(out), "--model-dir",
            str(tmp_path / "model"), "--epochs", str(epochs), "--workers", str(workers),
            *(f"--codec={c}" for c in plan)]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc, out


def fork_server_of(batch_pid: int) -> int | None:
    """The batch's multiprocessing fork server (its child whose command line names forkserver)."""
    for pid in _session_processes(batch_pid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == batch_pid and b"forkserver" in cmdline:
            return pid
    return None


def _finish(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_fork_server_killed_while_the_pool_starts_workers_is_replaced_and_every_codec_judged(tmp_path):
    """Was: ``EOFError: unexpected EOF`` from popen_forkserver and exit 70. The fork server is killed
    while it still imports torch, after the first workers were asked of it."""
    proc, out = _batch(tmp_path, SMALL_PLAN, epochs=20, workers=2)
    deadline = time.monotonic() + 60
    while (server := fork_server_of(proc.pid)) is None:
        assert time.monotonic() < deadline and proc.poll() is None, "no fork server appeared"
        time.sleep(0.02)
    while not (logs := list(out.glob("train_*.log"))) or "queued" not in logs[0].read_text():
        assert time.monotonic() < deadline and proc.poll() is None, "the batch never queued a codec"
        time.sleep(0.02)
    os.kill(server, signal.SIGKILL)  # tasks were submitted: the pool is starting its workers from it
    stdout, stderr = _finish(proc, 180)
    assert proc.returncode in (0, 1), stderr
    assert "Traceback" not in stderr + stdout and stderr.strip() == ""
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["error"] is None
    assert {c["codec"]: c["status"] in ("pass", "fail") for c in report["codecs"]} == dict.fromkeys(SMALL_PLAN, True)
    assert _wait_gone(proc.pid, 5) == []


def test_a_worker_killed_once_costs_nothing_its_task_runs_again(tmp_path):
    proc, out = _batch(tmp_path, SMALL_PLAN, epochs=300, workers=2)
    try:
        victim = _busy_pool_worker(proc.pid, cpu_seconds=0.3, timeout=60)
        os.kill(victim, signal.SIGKILL)
    finally:
        stdout, stderr = _finish(proc, 180)
    assert proc.returncode in (0, 1) and stderr.strip() == "", stderr
    [died] = [line for line in stdout.splitlines() if line.startswith(f"worker process {victim} died (SIGKILL)")]
    killed_codec = died.split(" while running ")[1].split("'s task")[0]
    assert f"{killed_codec}: retrying (worker died)" in stdout.splitlines()
    report = json.loads((out / "report.json").read_text())
    assert {c["codec"]: c["status"] in ("pass", "fail") for c in report["codecs"]} == dict.fromkeys(SMALL_PLAN, True)
    assert _wait_gone(proc.pid, 5) == []


def test_after_a_break_every_worker_the_broken_pool_still_has_is_ended():
    """A worker the pool was still starting when another died escapes CPython 3.11's terminate (it
    terminates the workers registered at that moment, then joins all of them): it waits on the dead
    pool's queue, and the manager thread joining it kept a chaos run from exiting. Reproduced here by
    registering a live process with the broken pool after its terminate ran; the host's clean-up
    after a break must end it."""
    import contextlib
    import multiprocessing
    from concurrent.futures import BrokenExecutor

    from trainer.executors.process_pool import end_orphaned_workers, new_process_pool, pool_workers

    pool = new_process_pool(2)
    late = multiprocessing.get_context("fork").Process(target=time.sleep, args=(600,), daemon=True)
    try:
        for future in [pool.submit(time.sleep, 0.2) for _ in range(2)]:
            future.result(timeout=120)
        os.kill(pool_workers(pool)[0].pid, signal.SIGKILL)
        with contextlib.suppress(BrokenExecutor):  # the pool notices the death
            pool.submit(time.sleep, 0).result(timeout=60)
        pool._executor_manager_thread.join(30)  # the pool's own terminate has run
        late.start()
        pool._processes[late.pid] = late  # what the race leaves: a live worker the terminate missed
        end_orphaned_workers(pool)
        late.join(30)
        assert late.exitcode == -signal.SIGKILL
        assert not any(w.is_alive() for w in pool_workers(pool))
    finally:
        if late.is_alive():
            late.kill()
        pool.shutdown(wait=False, cancel_futures=True)


def test_a_worker_whose_broken_pool_closes_its_queue_ends_without_a_traceback(tmp_path):
    """CPython's worker loop raises EOFError when its pool's task queue closes under it (the pool
    broke) and multiprocessing prints that traceback on the run's terminal; the pool's workers end
    quietly instead. A fresh interpreter, so the fork server and stderr are its own."""
    code = ("import sys\n"
            "from trainer.executors.process_pool import QuietWorkerContext\n"
            "def closed_queue():\n"
            "    raise EOFError\n"
            "if __name__ == '__main__':\n"
            "    worker = QuietWorkerContext().Process(target=closed_queue)\n"
            "    worker.start(); worker.join(60)\n"
            "    print(worker.exitcode)\n")
    script = tmp_path / "quiet_worker.py"
    script.write_text(code)
    result = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "0" and "Traceback" not in result.stderr, result.stderr
