"""Faults, with real processes and real signals: a batch that is stopped or starved ends cleanly.

Each batch runs in a session of its own, so "nothing of the run is left" is checked on the whole
session: the fork server, the resource tracker and every worker included. Every child that is sent
a signal, or hung up, starts with the dispositions its test sets (tests/dispositions.py), never
those of the shell that started the suite (``nohup`` ignores SIGHUP for every process below it).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_corpus
from tests.dispositions import python_argv
from trainer.core.atomic import OutputUnwritable
from trainer.engine.engine import MAX_WORKER_DEATHS
from trainer.run.cli import main as trainer_main

pytestmark = pytest.mark.slow  # starts, signals and kills real batches and consoles

REPO = Path(__file__).resolve().parents[1]
TRAINING_PLAN = {"libx264": (8, 60, 0.5), "libx265": (8, 60, 0.5), "h264_amf": (8, 60, 4.0),
                 "hevc_nvenc": (8, 60, 0.5)}


def _session_processes(sid: int) -> list[int]:
    """Live processes whose session is ``sid`` (zombies excluded: they hold no memory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry.name))
    return found


def _wait_gone(sid: int, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := _session_processes(sid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _start_batch(tmp_path: Path, *extra: str, epochs: int = 400,
                 ignored: tuple[int, ...] = ()) -> tuple[subprocess.Popen, Path]:
    """A batch in a session of its own, SIGHUP and SIGINT at their default unless ``ignored``."""
    corpus = write_corpus(tmp_path / "corpus.jsonl", TRAINING_PLAN)
    out = tmp_path / "runs"
    argv = python_argv("-m", "trainer", "--corpus", str(corpus), "--out-dir", str(out), "--model-dir",
                       str(tmp_path / "model"), "--epochs", str(epochs), "--workers", "2", *extra, ignored=ignored)
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc, out


def _wait_until_training(proc: subprocess.Popen, out: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = list(out.glob("train_*.log"))
        if logs and "queued" in logs[0].read_text():
            time.sleep(0.5)  # workers have tasks in hand
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError("the batch never started training")


@pytest.mark.parametrize(("signum", "ignored"), [
    (signal.SIGINT, ()), (signal.SIGTERM, ()), (signal.SIGHUP, ()),
    (signal.SIGTERM, (signal.SIGHUP, signal.SIGINT)),  # under nohup, in a background job: SIGTERM still stops it
], ids=["SIGINT", "SIGTERM", "SIGHUP", "SIGTERM-under-nohup"])
def test_a_stop_signal_mid_training_writes_an_interrupted_report_and_leaves_nothing(tmp_path, signum, ignored):
    proc, out = _start_batch(tmp_path, ignored=ignored)
    try:
        _wait_until_training(proc, out)
        sent = time.monotonic()
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=10)
        assert time.monotonic() - sent < 10
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum
    assert "Traceback" not in stderr and "Traceback" not in stdout
    assert stderr.strip().splitlines() == [f"python -m trainer: interrupted by {name}; report: {out / 'report.json'}"]
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["interrupted"] is True and report["summary"]["interrupted_by"] == name
    unfinished = [c for c in report["codecs"] if c["status"] == "error"]
    assert unfinished and all(c["failure_reasons"] == [f"interrupted by {name}"] for c in unfinished)
    assert all(c["n_rows_total"] == 480 for c in unfinished if c["codec"] in TRAINING_PLAN)
    assert "skipped" in report["promotion"]
    assert _session_processes(proc.pid) == [], "the run exited before its workers, fork server or resource tracker"


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGINT])
def test_a_signal_ignored_when_the_batch_started_stays_ignored(tmp_path, signum):
    """``nohup`` (SIGHUP) and a non-interactive shell's background job (SIGINT): the signal, sent to
    the whole process group as a logout does, changes nothing; the batch ends as it would have."""
    proc, out = _start_batch(tmp_path, epochs=60, ignored=(signum,))
    try:
        _wait_until_training(proc, out, timeout=60)
        os.killpg(proc.pid, signum)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode in (0, 1), stderr
    assert "Traceback" not in stderr and "interrupted" not in stderr
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["interrupted"] is False and report["summary"]["interrupted_by"] is None
    assert {c["status"] for c in report["codecs"] if c["codec"] in TRAINING_PLAN} <= {"pass", "fail"}
    assert "verdict:" in stdout
    assert _wait_gone(proc.pid, 5) == []


def test_a_finished_batch_has_ended_every_process_it_started_when_it_exits(tmp_path):
    """Not "soon after": the fork server and resource tracker are stopped and waited for before exit."""
    corpus = write_corpus(tmp_path / "corpus.jsonl", {"libx265": (6, 20, 0.5)})
    argv = [sys.executable, "-m", "trainer", "--corpus", str(corpus), "--out-dir", str(tmp_path / "runs"),
            "--model-dir", str(tmp_path / "model"), "--epochs", "3", "--workers", "2"]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    stdout, stderr = proc.communicate(timeout=120)
    left = _session_processes(proc.pid)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1 and "verdict:" in stdout, stderr
    assert left == [], "processes of the run outlived it"


def test_a_sigkilled_batch_takes_its_workers_and_fork_server_with_it(tmp_path):
    proc, out = _start_batch(tmp_path)
    try:
        _wait_until_training(proc, out)
        deadline = time.monotonic() + 30
        while len(_session_processes(proc.pid)) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)  # the fork server forks workers once it has imported torch
        assert len(_session_processes(proc.pid)) >= 5  # batch, fork server, tracker, two workers
        proc.kill()
        proc.communicate(timeout=10)
        assert _wait_gone(proc.pid, 5) == []
    finally:
        for pid in _session_processes(proc.pid):
            os.kill(pid, signal.SIGKILL)


def _read_pty_until(master: int, pattern: str, proc: subprocess.Popen, timeout: float) -> str:
    import re
    import select

    seen, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                seen += os.read(master, 65536).decode(errors="replace")
            except OSError:
                break
            if re.search(pattern, seen):
                return seen
        assert proc.poll() is None, seen
    raise AssertionError(f"{pattern!r} never appeared on the terminal:\n{seen[-2000:]}")


def test_a_terminal_closed_mid_training_still_gets_its_report_and_leaves_nothing(tmp_path):
    """A real pty as the batch's controlling terminal; closing it mid-run is a hang-up (SIGHUP + EIO)."""
    import pty

    corpus = write_corpus(tmp_path / "corpus.jsonl", TRAINING_PLAN)
    out = tmp_path / "runs"
    master, slave = pty.openpty()
    proc = subprocess.Popen(  # SIGHUP at its default, as in a shell of a terminal (a closed tmux pane: 129)
        python_argv("-m", "trainer", "--corpus", str(corpus), "--out-dir", str(out), "--model-dir",
                    str(tmp_path / "model"), "--epochs", "400", "--workers", "2", controlling_tty=True),
        cwd=REPO, stdin=slave, stdout=slave, stderr=slave, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    os.close(slave)
    try:
        # Every codec is queued (its line reached the terminal) and the workers have tasks in hand: waiting
        # for a first fold line instead cost a whole 400-epoch task (about 15 s) and proved no more.
        _read_pty_until(master, r"hevc_nvenc: queued", proc, timeout=90)
        time.sleep(0.5)
        os.close(master)  # the terminal window closes
        master = -1
        proc.wait(timeout=15)
        assert proc.returncode == 128 + signal.SIGHUP
        report = json.loads((out / "report.json").read_text())
        assert report["summary"]["interrupted_by"] == "SIGHUP" and report["summary"]["error"] is None
        assert any(c["failure_reasons"] == ["interrupted by SIGHUP"] for c in report["codecs"])
        [log] = out.glob("train_*.log")
        assert "interrupted by SIGHUP: stopped" in log.read_text()
        assert _wait_gone(proc.pid, 5) == []
    finally:
        if master >= 0:
            os.close(master)
        for pid in _session_processes(proc.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("command", [["console.cli"], ["trainer.run.cli"]])
def test_version_into_a_closed_pipe_prints_no_traceback(command):
    """``predictor-console --version | head -1``: the reader is gone before the output is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-c", f"from {command[0]} import main; raise SystemExit(main())",
                               "--version"], cwd=REPO, stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=60)
    finally:
        os.close(write_end)
    assert done.stderr == "" and done.returncode == 0


def _mount_namespace_prefix() -> list[str] | None:
    """How to get a private mount namespace: unprivileged (user + mount namespace, ``unshare -rm``,
    what CI runners allow), or as root (``unshare -m``); None where neither works."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (["unshare", "-rm"], ["unshare", "-m"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return None


MOUNT_NAMESPACE = _mount_namespace_prefix()
needs_mount_namespace = pytest.mark.skipif(
    MOUNT_NAMESPACE is None, reason="no mount namespace here (unshare missing or user namespaces disabled); "
    "test_report_write_enospc_is_exit_2 injects ENOSPC instead")


def _cli_on_small_tmpfs(mount_point: Path, setup: str, *argv: str) -> subprocess.CompletedProcess:
    """Run the CLI in a private mount namespace with a 256 KiB tmpfs at ``mount_point`` (after ``setup``).

    The mount exists only inside that namespace: nothing is left mounted, whatever the test does.
    """
    script = (f'mount -t tmpfs -o size=256k tmpfs "$1" || exit 97\n{setup}\n'
              f'shift; exec "$@"')
    return subprocess.run([*MOUNT_NAMESPACE, "sh", "-c", script, "sh", str(mount_point), sys.executable, "-m",
                           "trainer", *argv], cwd=REPO, capture_output=True, text=True, timeout=180)


@needs_mount_namespace
def test_a_full_disk_for_run_outputs_is_exit_2_with_one_line(tmp_path):
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    corpus = write_corpus(tmp_path / "corpus.jsonl", {"libx264": (6, 10, 0.5)})
    fill = 'head -c 1048576 /dev/zero > "$1/filler" 2>/dev/null; test "$(df -k "$1" | awk \'NR==2 {print $4}\')" = 0'
    done = _cli_on_small_tmpfs(mount_point, f"{fill} || exit 98", "--corpus", str(corpus),
                               "--out-dir", str(mount_point / "runs"), "--epochs", "2")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert str(mount_point / "runs") in line and "No space left on device" in line
    assert "queued" not in done.stdout  # refused before any training


@needs_mount_namespace
def test_a_model_dir_that_cannot_be_written_is_refused_before_training(tmp_path):
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    corpus = write_corpus(tmp_path / "corpus.jsonl", {"libx264": (6, 10, 0.5)})
    for flags in (["--yes"], ["--write-stubs"], ["--restore", "20261124T160512Z"]):
        # The tmpfs's own options again: inside an unprivileged user namespace a bare `remount,ro` is refused.
        remount_ro = 'mount -o remount,ro,size=256k tmpfs "$1" || exit 98'
        done = _cli_on_small_tmpfs(mount_point, remount_ro, "--corpus", str(corpus),
                                   "--out-dir", str(tmp_path / "runs"), "--model-dir", str(mount_point / "model"),
                                   "--epochs", "2", *flags)
        assert done.returncode == 2, (flags, done.stderr)
        assert "Traceback" not in done.stderr
        [line] = done.stderr.strip().splitlines()
        assert f"model directory {mount_point / 'model'} is not writable: Read-only file system" in line
        assert "queued" not in done.stdout


def test_report_write_enospc_is_exit_2(tmp_path, monkeypatch, capsys):
    """The same fault injected at the report write itself (what a disk filling mid-run looks like)."""
    from trainer.run import report_writer

    def full_disk(path, _report):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(report_writer, "write_report", full_disk)
    corpus = write_corpus(tmp_path / "corpus.jsonl", {"libx264": (6, 10, 0.5)})
    code = trainer_main(["--corpus", str(corpus), "--out-dir", str(tmp_path / "runs"), "--epochs", "2",
                         "--workers", "1"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"python -m trainer: error: cannot write report {tmp_path / 'runs' / 'report.json'}: "
                   "No space left on device"]
    with pytest.raises(OutputUnwritable):
        from trainer.core.atomic import require_writable_dir

        require_writable_dir(corpus / "x", "report directory")  # under a file, not a directory


def _start_console(tmp_path: Path, ignored: tuple[int, ...] = ()) -> tuple[subprocess.Popen, Path, int]:
    """The console on a real pseudo-terminal, in a session of its own (as a terminal would start it)."""
    import pty

    corpus = write_corpus(tmp_path / "corpus.jsonl", TRAINING_PLAN)
    out = tmp_path / "runs"
    master, slave = pty.openpty()
    os.set_inheritable(slave, True)
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "140", "LINES": "42", "EPOCHS": "400"}
    proc = subprocess.Popen(
        python_argv("-c", "from console.cli import main; raise SystemExit(main())", "--corpus", str(corpus),
                    "--out-dir", str(out), "--model-dir", str(tmp_path / "model"), "--workers", "2",
                    ignored=ignored),
        cwd=REPO, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, env=env)
    os.close(slave)
    return proc, out, master


def _drain(master: int) -> None:
    import select

    while select.select([master], [], [], 0)[0]:
        try:
            if not os.read(master, 65536):
                return
        except OSError:
            return


def until_training(proc: subprocess.Popen, master: int) -> None:
    """Wait until the console on ``master`` has started its pool (5 processes in its session)."""
    deadline = time.monotonic() + 60
    while len(_session_processes(proc.pid)) < 5 and time.monotonic() < deadline:
        _drain(master)  # keep the terminal's buffer from filling up
        assert proc.poll() is None
        time.sleep(0.1)
    assert len(_session_processes(proc.pid)) >= 5, "the console never started its workers"


@pytest.mark.parametrize(("signum", "ignored"), [(signal.SIGHUP, ()), (signal.SIGHUP, (signal.SIGHUP,)),
                                                 (signal.SIGKILL, ())], ids=["SIGHUP", "SIGHUP-under-nohup", "SIGKILL"])
def test_the_console_leaves_no_process_when_its_terminal_closes_or_it_is_killed(tmp_path, signum, ignored):
    """SIGHUP is the console's clean end (exit 129) even when it was ignored at start: a console is useless
    without its terminal. SIGKILL leaves no process either: the workers follow their parent."""
    proc, out, master = _start_console(tmp_path, ignored)
    try:
        until_training(proc, master)
        proc.send_signal(signum)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            _drain(master)
            time.sleep(0.05)
        assert proc.poll() == (128 + signal.SIGHUP if signum == signal.SIGHUP else -signal.SIGKILL)
        assert _wait_gone(proc.pid, 5) == []
    finally:
        os.close(master)
        for pid in _session_processes(proc.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("where", ["engine", "promotion", "before-the-log"])
def test_an_unexpected_exception_still_writes_the_report_and_exits_70(tmp_path, monkeypatch, capsys, where):
    """A bug anywhere in the run: exit 70 (not 1, a failed gate), one stderr line, report and traceback kept."""
    from trainer.engine.job_book import JobBook
    from trainer.run import batch, promotion

    def injected(*_args, **_kwargs):
        raise RuntimeError("injected fault\nsecond line")

    target = {"engine": (JobBook, "task_done"), "promotion": (promotion, "plan_promotion"),
              "before-the-log": (batch, "find_inputs")}[where]
    monkeypatch.setattr(*target, injected)
    corpus = write_corpus(tmp_path / "corpus.jsonl", {"libx264": (6, 10, 0.5), "libx265": (6, 10, 0.5)})
    out = tmp_path / "runs"
    code = trainer_main(["--corpus", str(corpus), "--out-dir", str(out), "--model-dir", str(tmp_path / "model"),
                         "--epochs", "2", "--workers", "1", "--codec", "libx264", "--codec", "libx265"])
    assert code == 70
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("python -m trainer: internal error: RuntimeError: injected fault second line; traceback in ")
    assert "Traceback" not in line
    if where == "before-the-log":  # nothing ran: no report, the traceback in a crash file it names
        assert not out.exists()
        crash = Path(line.split("traceback in ")[1])
        assert "Traceback (most recent call last)" in crash.read_text() and "find_inputs" in crash.read_text()
        crash.unlink()
        return
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["error"] == "RuntimeError: injected fault second line"
    assert report["summary"]["interrupted"] is False
    assert line.endswith(f"; report: {out / 'report.json'}")
    [log] = out.glob("train_*.log")
    assert str(log) in line
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: injected fault" in text
    statuses = {c["codec"]: c["status"] for c in report["codecs"]}
    if where == "engine":  # the first finished fold raised: no codec got a verdict
        assert statuses == {"libx264": "error", "libx265": "error"}
        assert all(c["failure_reasons"] == ["internal error: RuntimeError: injected fault second line"]
                   for c in report["codecs"])
    else:  # every codec was judged before the fault
        assert set(statuses.values()) <= {"pass", "fail"} and len(statuses) == 2
    assert "skipped" in report["promotion"]


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of a live process, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busy_pool_worker(batch_pid: int, cpu_seconds: float, timeout: float) -> int:
    """A pool worker (a child of the batch's fork server) that has trained for ``cpu_seconds``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = {pid: st for pid in _session_processes(batch_pid) if (st := _stat(pid)) is not None}
        servers = {pid for pid, (ppid, _cpu) in stats.items() if ppid == batch_pid
                   and b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()}
        for pid, (ppid, cpu) in stats.items():
            if ppid in servers and cpu >= cpu_seconds:
                return pid
        time.sleep(0.05)
    raise AssertionError("no pool worker started training")


def test_a_worker_killed_mid_batch_costs_only_its_codec(tmp_path):
    """kill -9 of the pool worker running a task, each time the task runs (what the OOM killer does to a
    task too big for the machine): its codec is error, the rest is judged. One worker, so the busy
    worker always runs that task (a stranded task is first in line again); a worker killed once or
    twice costs nothing (tests/test_pool_faults.py), the third death of the same task ends its codec."""
    plan = {codec: TRAINING_PLAN[codec] for codec in ("libx264", "libx265", "h264_amf")}
    corpus = write_corpus(tmp_path / "corpus.jsonl", plan)
    out = tmp_path / "runs"
    argv = [sys.executable, "-m", "trainer", "--corpus", str(corpus), "--out-dir", str(out), "--model-dir",
            str(tmp_path / "model"), "--epochs", "120", "--workers", "1", *(f"--codec={c}" for c in plan)]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        victims = []
        for _ in range(1 + MAX_WORKER_DEATHS):
            victims.append(_busy_pool_worker(proc.pid, cpu_seconds=0.3, timeout=60))  # mid-task: seconds each
            os.kill(victims[-1], signal.SIGKILL)
            _wait_for_death(victims[-1])
        victim = victims[0]
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode in (0, 1), stderr
    assert "Traceback" not in stderr and stderr.strip() == ""
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["error"] is None and report["summary"]["interrupted"] is False
    [died] = [line for line in stdout.splitlines() if line.startswith(f"worker process {victim} died (SIGKILL)")]
    killed_codec = died.split(" while running ")[1].split("'s task")[0]
    statuses = {c["codec"]: c for c in report["codecs"]}
    assert set(statuses) == set(plan)
    assert statuses[killed_codec]["status"] == "error"
    assert statuses[killed_codec]["failure_reasons"] == [
        "worker process died (killed or out of memory) while this codec's task was running"]
    others = {codec: c["status"] for codec, c in statuses.items() if codec != killed_codec}
    assert set(others.values()) <= {"pass", "fail"}, others  # every other codec judged, none lost
    assert proc.returncode == 1  # the killed codec did not pass
    assert all(f"worker process {v} died (SIGKILL) while running {killed_codec}'s task" in stdout for v in victims)


def _wait_for_death(pid: int) -> None:
    deadline = time.monotonic() + 10
    while _stat(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
