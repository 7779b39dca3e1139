"""Discovery: which corpus files a run reads, from explicit files and recursively searched roots."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


def partition_roots(roots: Iterable[Path]) -> tuple[list[str], list[str]]:
    """(present, missing) roots, user-expanded: what discovery would say, without walking them."""
    present: list[str] = []
    missing: list[str] = []
    for root in roots:
        expanded = Path(root).expanduser()
        (present if expanded.is_dir() else missing).append(str(expanded))
    return present, missing


def discover_files(roots: Iterable[Path]) -> tuple[list[Path], list[str], list[str]]:
    """All ``*.jsonl`` under the present roots (symlinked dirs not followed, so no loops).

    Returns (files, present roots, missing roots); files are sorted and de-duplicated.
    """
    found: dict[str, Path] = {}
    present, missing = partition_roots(roots)
    for root in present:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            for name in filenames:
                if name.endswith(".jsonl"):
                    candidate = Path(dirpath) / name
                    if candidate.is_file():
                        found.setdefault(os.path.realpath(candidate), candidate)
    return sorted(found.values()), present, missing



@dataclass(frozen=True)
class CorpusInputs:
    files: list[Path]
    present_roots: list[str]
    missing_roots: list[str]

    def describe_missing(self) -> str:
        return ", ".join(self.missing_roots) or "(none)"


def find_inputs(corpus_files: Sequence[Path], corpus_roots: Iterable[Path]) -> CorpusInputs:
    """Explicit files first, then everything under the present roots, each file once."""
    found, present, missing = discover_files(corpus_roots)
    seen = {p.resolve() for p in corpus_files}
    files = list(corpus_files) + [p for p in found if p.resolve() not in seen]
    return CorpusInputs(files, present, missing)
