"""Driving the real console under Textual's Pilot: the app on a temp dir, and waiting for what it shows."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from console.app import PredictorConsole
from console.session import ConsoleSession
from trainer.run.cli import build_parser
from trainer.run.config import resolve_config

SIZE = (140, 44)


def make_app(tmp_path: Path, *args: str, auto_train: bool = True, debounce_s: float = 0.3) -> PredictorConsole:
    argv = ["--out-dir", str(tmp_path / "runs"), "--model-dir", str(tmp_path / "model"), "--workers", "2", *args]
    config = resolve_config(build_parser("predictor-console").parse_args(argv), env={}, argv=argv)
    return PredictorConsole(lambda post: ConsoleSession(config, post), debounce_s=debounce_s,
                            auto_train=auto_train)


def count_queues(app: PredictorConsole) -> Counter[str]:
    """How often the app has queued each codec from now on: the session's ``queue``, watched from the test."""
    counts: Counter[str] = Counter()
    queue = app.session.queue

    def counted(codec: str) -> None:
        counts[codec] += 1
        queue(codec)

    vars(app.session)["queue"] = counted  # an instance attribute: the app calls it in place of the method
    return counts


def promotion_applied(out_dir: Path) -> bool:
    """Whether the report in ``out_dir`` records an applied promotion (the console writes it after the apply)."""
    try:
        report = json.loads((out_dir / "report.json").read_text())
    except FileNotFoundError:
        return False
    return bool(report.get("promotion", {}).get("applied"))


async def wait_for(pilot, condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
