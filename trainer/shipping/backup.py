"""Backups of the model directory: taken before any replacement (trainer.shipping.restore puts them back)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NotRequired, TypedDict

from trainer.core.atomic import atomic_write_bytes, atomic_write_text
from trainer.shipping.artifacts import sha256_bytes


class ManifestEntry(TypedDict):
    """One file of a backup's manifest.json: its sha256 when it existed, ``created`` when the run made it."""

    file: str
    sha256: NotRequired[str]
    created: NotRequired[bool]


def unique_backup_dir(backup_root: Path, stamp: str) -> Path:
    """``backup_root/stamp``, or ``stamp-N`` when a run in the same second already took it."""
    candidate, n = backup_root / stamp, 1
    while candidate.exists():
        candidate, n = backup_root / f"{stamp}-{n}", n + 1
    return candidate


def write_backup(paths: list[Path], backup_dir: Path) -> list[ManifestEntry]:
    """Copy each existing file; one that does not exist yet is recorded as ``created`` (a restore removes it)."""
    backup_dir.mkdir(parents=True, exist_ok=False)
    manifest: list[ManifestEntry] = []
    for path in paths:
        if path.exists():
            data = path.read_bytes()
            atomic_write_bytes(backup_dir / path.name, data)
            manifest.append({"file": path.name, "sha256": sha256_bytes(data)})
        else:
            manifest.append({"file": path.name, "created": True})
    atomic_write_text(backup_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return manifest
