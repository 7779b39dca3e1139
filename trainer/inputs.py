"""Which corpus files a run reads: explicit files first, then everything under the present roots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.config import RunConfig
from trainer.corpus import discover_files


@dataclass(frozen=True)
class CorpusInputs:
    files: list[Path]
    present_roots: list[str]
    missing_roots: list[str]

    def describe_missing(self) -> str:
        return ", ".join(self.missing_roots) or "(none)"


def find_inputs(config: RunConfig) -> CorpusInputs:
    found, present, missing = discover_files(config.corpus_roots)
    seen = {p.resolve() for p in config.corpus_files}
    files = list(config.corpus_files) + [p for p in found if p.resolve() not in seen]
    return CorpusInputs(files, present, missing)
