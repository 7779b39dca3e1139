"""Which sources a shipped model was trained on, as its card records them, read back.

A model may only be compared with a challenger on rows it never saw, so the card lists the
sorted source names. Names come from corpus rows and may hold anything, so each is written as
one ASCII-escaped JSON string per line inside a fenced block: no name can start a Markdown
construct, end the block, or become a path. The hash is taken over exactly those lines.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PROVENANCE_HEADING = "## Training provenance"
SYNTHETIC = "synthetic (no real source seen)"
HASH_RULE = 'sha256 of the name lines below, UTF-8, joined by "\\n"'
NAMES_FENCE = "```text"
_FIELD = re.compile(r"^- ([a-z0-9 ]+): (.*)$")


class NoProvenance(Exception):
    """The card has no (or a damaged) training-provenance section."""


def name_lines(sources: Iterable[str]) -> list[str]:
    """Sorted distinct names, one JSON string each with every non-ASCII character escaped."""
    return [json.dumps(str(name), ensure_ascii=True) for name in sorted(set(map(str, sources)))]


def sources_sha256(sources: Iterable[str]) -> str:
    """The hash a card records: over the name lines exactly as written (so names with newlines stay unambiguous)."""
    return hashlib.sha256("\n".join(name_lines(sources)).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Provenance:
    """A card's training provenance: ``synthetic`` (stubs: no real source seen) or the real sources."""

    synthetic: bool
    sources: tuple[str, ...]
    sha256: str
    files: tuple[str, ...]

    @property
    def kind(self) -> str:
        return "stub" if self.synthetic else "production"


def _section(card_text: str) -> list[str]:
    lines = card_text.splitlines()
    try:
        start = lines.index(PROVENANCE_HEADING)
    except ValueError:
        raise NoProvenance("card has no provenance (no '## Training provenance' section)") from None
    body: list[str] = []
    fenced = False
    for line in lines[start + 1:]:
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (line.startswith("## ") or line.startswith("<!-- status")):
            break
        body.append(line)
    return body


def read_provenance(card_text: str) -> Provenance:
    """Parse the section ``provenance_section`` in cards.py writes; NoProvenance when absent or inconsistent."""
    body = _section(card_text)
    fields: dict[str, str] = {}
    names: list[str] = []
    files: list[str] = []
    in_names = False
    for line in body:
        if line.startswith("```"):
            in_names = line == NAMES_FENCE
            continue
        if in_names:
            try:
                name = json.loads(line)
            except ValueError:
                raise NoProvenance(f"provenance damaged: source line {line[:60]!r} is not a JSON string") from None
            if not isinstance(name, str):
                raise NoProvenance(f"provenance damaged: source line {line[:60]!r} is not a JSON string")
            names.append(name)
            continue
        match = _FIELD.match(line)
        if match and match.group(1) == "corpus file":
            files.append(match.group(2))
        elif match:
            fields[match.group(1)] = match.group(2)
    return _checked(fields, names, files)


def _checked(fields: dict[str, str], names: Sequence[str], files: Sequence[str]) -> Provenance:
    if "trained on" not in fields or "source count" not in fields or "sources sha256" not in fields:
        raise NoProvenance("provenance damaged: 'trained on', 'source count' or 'sources sha256' missing")
    digest = fields["sources sha256"].split("`")[1] if fields["sources sha256"].count("`") >= 2 else ""
    synthetic = fields["trained on"] == SYNTHETIC
    if not fields["source count"].isdigit() or int(fields["source count"]) != len(names):
        raise NoProvenance(f"provenance damaged: source count {fields['source count']!r}, {len(names)} names listed")
    if digest != sources_sha256(names) or list(names) != sorted(set(names)):
        raise NoProvenance("provenance damaged: the listed source names do not match their sha256")
    if synthetic == bool(names):
        raise NoProvenance("provenance damaged: a synthetic model lists sources, or a real one lists none")
    return Provenance(synthetic, tuple(names), digest, tuple(files))
