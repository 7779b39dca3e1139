"""Benchmark: ingest of a 1M-row corpus (optionally against another revision's checkout), and a live append.

The measured step is what a batch does before training: parse, validate and project every row of
the file, then build each codec's table with its probe inputs. With ``--ingest-against CHECKOUT``
the same step runs from that checkout too (its own ``trainer`` package first on the path), the two
alternating so a busy moment hits both, and the ratio of their medians is printed: the regression
guard for ingest (issue #30 measures against 76abf1f, the revision before probe derivation).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import orjson

from trainer.bench.runs import Measured, gb, measure
from trainer.ingest.synthetic import synthetic_rows

APPEND_ROWS = 10_000
THIS_CHECKOUT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter from the checkout being timed. Revisions before the ingest package kept the
# corpus in trainer/corpus.py: both layouts are tried.
_PROBE = """
import sys, time
from pathlib import Path
if __name__ == "__main__":
    try:
        from trainer.ingest.corpus import load_corpus
        from trainer.core.codecs import SUPPORTED_CODECS
    except ImportError:
        from trainer.corpus import load_corpus
        from trainer.codecs import SUPPORTED_CODECS
    import trainer
    started = time.perf_counter()
    corpus = load_corpus([Path(sys.argv[1])], workers=int(sys.argv[2]))
    tables = [corpus.for_codec(c) for c in SUPPORTED_CODECS]
    print(Path(trainer.__file__).resolve().parents[1], corpus.rows_accepted, time.perf_counter() - started)
"""


def _time_checkout(checkout: Path, probe: Path, corpus: Path, workers: int) -> tuple[float, int, int]:
    """(seconds, rows, peak RSS of the process tree) of the measured step run from ``checkout``."""
    measured: Measured = measure([sys.executable, str(probe), str(corpus), str(workers)], cwd=checkout,
                                 pythonpath=checkout)
    if measured.returncode != 0:
        raise RuntimeError(f"ingest from {checkout} exited {measured.returncode}:\n{measured.stdout[-2000:]}")
    root, rows, seconds = measured.stdout.split()[-3:]
    if Path(root) != checkout.resolve():
        raise RuntimeError(f"ingest meant for {checkout} imported trainer from {root}")
    return float(seconds), int(rows), measured.peak_rss_bytes


def bench_ingest(corpus: Path, workdir: Path, workers: int, against: Path | None = None, pairs: int = 3) -> None:
    print("\n== ingest ==")
    probe = workdir / "ingest_probe.py"
    probe.write_text(_PROBE)
    size_mb = corpus.stat().st_size / 2**20
    sides = [THIS_CHECKOUT] if against is None else [Path(against), THIS_CHECKOUT]
    times: dict[Path, list[float]] = {side: [] for side in sides}
    peaks: dict[Path, list[int]] = {side: [] for side in sides}
    rows = 0
    for _ in range(pairs if against is not None else 1):
        for side in sides:
            seconds, rows, peak = _time_checkout(side, probe, corpus, workers)
            times[side].append(seconds)
            peaks[side].append(peak)
    for side in sides:
        label = "this checkout" if side == THIS_CHECKOUT else str(side)
        runs = ", ".join(f"{t:.2f}" for t in times[side])
        print(f"parse+validate+project {rows:,} rows ({size_mb:.0f} MiB, {workers} workers), {label}: {runs} s "
              f"({rows / statistics.median(times[side]):,.0f} rows/s at the median), peak RSS "
              f"{gb(max(peaks[side]))} GB  [target <= 5 s, <= 1.5 GB]")
    if against is not None:
        ratio = statistics.median(times[Path(against)]) / statistics.median(times[THIS_CHECKOUT])
        memory = max(peaks[THIS_CHECKOUT]) / max(peaks[Path(against)])
        print(f"   ingest ratio {against}/this checkout = {ratio:.2f}x (median of {pairs} alternating runs each; "
              f"> 1: this checkout is faster); peak memory this/that {memory:.2f}")
    bench_append(workdir, corpus)


def bench_append(workdir: Path, big_corpus: Path) -> None:
    """Append 10k rows to a watched file already holding 1M rows; time until the live corpus has them.

    This is the console's path: watchdog event -> incremental read of the appended bytes only ->
    parse -> per-chunk summary (no re-concatenation of the million rows already loaded).
    """
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    from trainer.ingest.live import IncrementalCorpus

    root = workdir / "watched"
    root.mkdir(parents=True, exist_ok=True)
    target = root / "growing.jsonl"
    shutil.copyfile(big_corpus, target)
    live = IncrementalCorpus()
    live.refresh(str(target))
    before = live.summary().rows_accepted
    rows = b"".join(orjson.dumps(r) + b"\n" for r in synthetic_rows("libx264", 20, APPEND_ROWS // 20, 0.7, 5))
    seen = threading.Event()
    processing: list[float] = []

    class Handler(FileSystemEventHandler):
        def on_modified(self, event) -> None:  # noqa: ANN001
            if event.src_path == str(target):
                t = time.perf_counter()
                live.refresh(str(target))
                done = live.summary().rows_accepted >= before + APPEND_ROWS
                processing.append(time.perf_counter() - t)
                if done:
                    seen.set()

    observer = Observer()
    observer.schedule(Handler(), str(root), recursive=True)
    observer.start()
    try:
        time.sleep(0.2)
        started = time.perf_counter()
        with target.open("ab") as handle:
            handle.write(rows)
        ok = seen.wait(10)
        latency = time.perf_counter() - started
    finally:
        observer.stop()
        observer.join()
        target.unlink(missing_ok=True)
    state = "ok" if ok else "NOT SEEN within 10 s"
    print(f"append {APPEND_ROWS:,} rows to a watched file holding {before:,}: in the live corpus after "
          f"{latency * 1000:.0f} ms (read+parse+summary {sum(processing) * 1000:.0f} ms over "
          f"{len(processing)} events) [{state}; target <= 500 ms]")
