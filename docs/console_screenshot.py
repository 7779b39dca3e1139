"""Regenerate docs/console.svg: the console on the demo corpus, h264_amf selected, saved by Textual.

    . .venv/bin/activate && python docs/console_screenshot.py

Runs the real console headless (Textual's ``run_test``) on a temporary output directory and a copy of
the shipped model directory, waits for every verdict of the demo corpus, selects h264_amf and saves
the screen as SVG. Nothing in the repository is written except the SVG. About 10-20 s on 2 cores.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.app import PredictorConsole  # noqa: E402
from console.session import ConsoleSession  # noqa: E402
from trainer.core.codecs import SUPPORTED_CODECS  # noqa: E402
from trainer.executors.process_pool import process_pool_factory  # noqa: E402
from trainer.ingest.demo_corpus import DEMO_CORPUS_PATH  # noqa: E402
from trainer.run.cli import build_parser  # noqa: E402
from trainer.run.config import resolve_config  # noqa: E402

SIZE = (140, 44)
SELECTED = "h264_amf"
# The demo corpus's codecs that have rows: each gets a verdict (the other seven stay idle).
WITH_ROWS = {"libx264", "libx265", "libsvtav1", "libvvenc", "hevc_nvenc", "av1_nvenc", "h264_amf"}


async def shoot(work: Path, out: Path) -> None:
    model_dir = work / "model"
    shutil.copytree(ROOT / "model", model_dir, ignore=shutil.ignore_patterns(".lock*", ".promotion-journal.json"))
    argv = ["--corpus", str(DEMO_CORPUS_PATH), "--out-dir", str(work / "runs"), "--model-dir", str(model_dir),
            "--workers", "2"]
    config = resolve_config(build_parser("predictor-console").parse_args(argv), env={}, argv=argv)
    factory = process_pool_factory(config.workers)
    app = PredictorConsole(lambda post: ConsoleSession(config, post, factory), debounce_s=0.5, auto_train=True)
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + 600
        while not set(app.results) >= WITH_ROWS:
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out; verdicts so far: {sorted(app.results)}")
            await pilot.pause(0.2)
        app.table.move_cursor(row=list(SUPPORTED_CODECS).index(SELECTED))
        await pilot.pause(1.0)
        app.save_screenshot(filename=out.name, path=str(out.parent))


def main() -> None:
    out = ROOT / "docs" / "console.svg"
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(shoot(Path(tmp), out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
