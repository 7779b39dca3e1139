"""Backups of the model directory: taken before any replacement, and put back with --restore."""

from __future__ import annotations

import json
import re
from pathlib import Path

from trainer.core.atomic import atomic_write_bytes, atomic_write_text
from trainer.core.codecs import CODEC_INDEX
from trainer.shipping.artifacts import sha256_bytes
from trainer.shipping.lock import PromotionError, model_dir_lock

STAMP_PATTERN = re.compile(r"^\d{8}T\d{6}Z(?:-\d+)?$")
MODEL_FILE_PATTERN = re.compile(r"^predictor_(?P<codec>[a-z0-9_-]+?)(?:\.onnx|_card\.md)$")


def unique_backup_dir(backup_root: Path, stamp: str) -> Path:
    """``backup_root/stamp``, or ``stamp-N`` when a run in the same second already took it."""
    candidate, n = backup_root / stamp, 1
    while candidate.exists():
        candidate, n = backup_root / f"{stamp}-{n}", n + 1
    return candidate


def write_backup(paths: list[Path], backup_dir: Path) -> list[dict[str, str]]:
    backup_dir.mkdir(parents=True, exist_ok=False)
    manifest = []
    for path in paths:
        if path.exists():
            data = path.read_bytes()
            atomic_write_bytes(backup_dir / path.name, data)
            manifest.append({"file": path.name, "sha256": sha256_bytes(data)})
    atomic_write_text(backup_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return manifest



def restore_backup(backup_root: Path, stamp: str, model_dir: Path, new_stamp: str) -> list[str]:
    """Put back the files a run replaced; the files being overwritten are backed up under ``new_stamp``."""
    if not STAMP_PATTERN.match(stamp):
        raise PromotionError(f"--restore {stamp!r}: expected a UTC stamp like 20261124T160512Z")
    source = backup_root / stamp
    try:
        manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PromotionError(f"no readable backup at {source}: {exc}") from None
    if not isinstance(manifest, list) or not all(isinstance(entry, dict) for entry in manifest):
        raise PromotionError(f"backup manifest {source / 'manifest.json'} is not a list of file entries")
    entries = []
    for entry in manifest:
        name = str(entry.get("file", ""))
        match = MODEL_FILE_PATTERN.match(name)
        if match is None or match.group("codec") not in CODEC_INDEX:
            raise PromotionError(f"backup manifest names {name!r}, which is not a model file")
        try:
            data = (source / name).read_bytes()
        except OSError as exc:
            reason = exc.strerror or exc
            raise PromotionError(f"backup file {name} cannot be read ({reason}); nothing restored") from None
        if sha256_bytes(data) != entry.get("sha256"):
            raise PromotionError(f"backup file {name} does not match its recorded sha256")
        entries.append((name, data))
    with model_dir_lock(model_dir, purpose="restore"):
        write_backup([model_dir / name for name, _ in entries], unique_backup_dir(backup_root, new_stamp))
        for name, data in entries:
            atomic_write_bytes(model_dir / name, data)
    return [str(model_dir / name) for name, _ in entries]
