"""What ``--version`` prints: this project's version and the engines a model's numbers depend on."""

from __future__ import annotations

import argparse
from importlib import metadata
from typing import Any

DISTRIBUTION = "vmaf-predictor-console"


def project_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


def version_text(prog: str) -> str:
    """One line per component; versions come from package metadata, so nothing heavy is imported."""
    lines = [f"{prog} {project_version()}"]
    for name in ("torch", "onnxruntime", "onnx", "numpy", "textual"):
        try:
            lines.append(f"  {name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(f"  {name} not installed")
    return "\n".join(lines)


class PrintVersion(argparse.Action):
    """``--version`` that prints its lines as they are (argparse's own action re-wraps them)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        kwargs.setdefault("help", "print this project's version and the torch/onnxruntime versions in use")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(version_text(parser.prog))
        parser.exit()
