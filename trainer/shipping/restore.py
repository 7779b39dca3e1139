"""``--restore UTC``: put back the set of files a run replaced, and remove the files it created."""

from __future__ import annotations

import json
import re
from pathlib import Path

from trainer.core.codecs import CODEC_INDEX
from trainer.shipping.apply import replace_set
from trainer.shipping.artifacts import sha256_bytes
from trainer.shipping.journal import recover
from trainer.shipping.lock import PromotionError, model_dir_lock

STAMP_PATTERN = re.compile(r"^\d{8}T\d{6}Z(?:-\d+)?$")
MODEL_FILE_PATTERN = re.compile(r"^predictor_(?P<codec>[a-z0-9_-]+?)(?:\.onnx|_card\.md|_calibration\.json)$")


def restore_backup(backup_root: Path, stamp: str, model_dir: Path, new_stamp: str) -> list[str]:
    """Put back the backed-up files and remove the created ones, as one journalled set.

    What the restore overwrites is itself backed up under ``new_stamp``. Returns one line per file.
    """
    if not STAMP_PATTERN.match(stamp):
        raise PromotionError(f"--restore {stamp!r}: expected a UTC stamp like 20261124T160512Z")
    source = backup_root / stamp
    try:
        manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PromotionError(f"no readable backup at {source}: {exc}") from None
    if not isinstance(manifest, list) or not all(isinstance(entry, dict) for entry in manifest):
        raise PromotionError(f"backup manifest {source / 'manifest.json'} is not a list of file entries")
    writes: dict[str, bytes | None] = {}
    for entry in manifest:
        name = str(entry.get("file", ""))
        match = MODEL_FILE_PATTERN.match(name)
        if match is None or match.group("codec") not in CODEC_INDEX:
            raise PromotionError(f"backup manifest names {name!r}, which is not a model file")
        if entry.get("created") is True:
            writes[name] = None  # the run created it: restoring the set before that run removes it
            continue
        try:
            data = (source / name).read_bytes()
        except OSError as exc:
            reason = exc.strerror or exc
            raise PromotionError(f"backup file {name} cannot be read ({reason}); nothing restored") from None
        if sha256_bytes(data) != entry.get("sha256"):
            raise PromotionError(f"backup file {name} does not match its recorded sha256")
        writes[name] = data
    with model_dir_lock(model_dir, purpose="restore"):
        recover(model_dir)
        lines = [f"{'removed' if data is None else 'restored'} {model_dir / name}" for name, data in writes.items()
                 if data is not None or (model_dir / name).exists()]
        replace_set(model_dir, writes, backup_root, new_stamp, "restore")
    return lines
