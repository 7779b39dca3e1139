"""Applying a set of model-dir changes: back up, journal, write each file atomically, roll back on failure.

``replace_set`` is the one way files in the model directory change (a promotion, a restore, a stub
regeneration): the set is journalled (trainer.shipping.journal) so that a run killed half-way is
finished or undone by the next one.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from pathlib import Path

from trainer.core.atomic import atomic_write_bytes
from trainer.shipping.artifacts import sha256_bytes, sha256_file
from trainer.shipping.backup import unique_backup_dir, write_backup
from trainer.shipping.journal import CREATED, JournalEntry, recover, remove_journal, write_journal
from trainer.shipping.lock import PromotionError, model_dir_lock
from trainer.shipping.plan import PromotionPlan

# Test-only: SIGKILL this process right after the first file of a set is replaced, so a test can
# prove the journal repairs a half-written set. Never set it outside tests.
KILL_HOOK_ENV = "PREDICTOR_TEST_KILL_AFTER_REPLACE"


def apply_plan(plan: PromotionPlan, model_dir: Path, backup_root: Path, stamp: str) -> dict[str, object]:
    """Back up, then write the planned files as one journalled set. Raises before writing if anything moved."""
    with model_dir_lock(model_dir):
        recover(model_dir)  # a set another run left half-written; the check below then sees what it left
        for change in plan.changes:
            if sha256_file(Path(change.path)) != change.old_sha256:
                raise PromotionError(f"{change.path} changed since the plan was made; nothing was written")
        writes = {Path(c.path).name: c.content for c in plan.changes}
        backup_dir = replace_set(model_dir, writes, backup_root, stamp, "promotion")
    return {"applied": [c.as_report() for c in plan.changes], "backup": str(backup_dir),
            "backup_stamp": backup_dir.name}


def replace_set(model_dir: Path, writes: Mapping[str, bytes | None], backup_root: Path, stamp: str,
                purpose: str) -> Path:
    """Write (bytes) or remove (None) each named file of ``model_dir`` as one set; returns the backup dir.

    The caller holds the model-dir lock. Order: backup (with a manifest naming created files),
    journal, the replacements, journal removed. A write error rolls the files already written
    back and raises PromotionError; if that rollback fails too, the journal stays for the next run.
    """
    names = [name for name, data in writes.items() if data is not None or (model_dir / name).exists()]
    backup_dir = unique_backup_dir(backup_root, stamp)
    try:
        manifest = write_backup([model_dir / name for name in names], backup_dir)
    except OSError as exc:
        raise PromotionError(f"backup to {backup_dir} failed ({exc.strerror or exc}); nothing was written") \
            from None
    old = {entry["file"]: entry.get("sha256") for entry in manifest}
    entries = [JournalEntry(name, _digest(writes[name]), CREATED if old[name] is None else str(backup_dir / name),
                            old[name]) for name in names]
    try:
        write_journal(model_dir, purpose, backup_dir, entries)
    except OSError as exc:
        raise PromotionError(f"writing the promotion journal failed ({exc.strerror or exc}); nothing was written") \
            from None
    done: list[JournalEntry] = []
    try:
        for entry in entries:
            data = writes[entry.file]
            if data is None:
                (model_dir / entry.file).unlink(missing_ok=True)
            else:
                atomic_write_bytes(model_dir / entry.file, data)
            done.append(entry)
            if len(done) == 1 and os.environ.get(KILL_HOOK_ENV) == "1":
                os.kill(os.getpid(), signal.SIGKILL)
    except OSError as exc:
        _fail(model_dir, entry.file, exc, done, backup_dir)
    remove_journal(model_dir)
    return backup_dir


def _digest(data: bytes | None) -> str | None:
    return None if data is None else sha256_bytes(data)


def _fail(model_dir: Path, name: str, exc: OSError, done: list[JournalEntry], backup_dir: Path) -> None:
    """Undo a partly written set: old files from the backup, created files removed; then say what happened."""
    try:
        for entry in reversed(done):
            if entry.backup == CREATED:
                (model_dir / entry.file).unlink(missing_ok=True)
            else:
                atomic_write_bytes(model_dir / entry.file, Path(entry.backup).read_bytes())
        remove_journal(model_dir)
    except OSError as undo_exc:
        raise PromotionError(
            f"writing {model_dir / name} failed ({exc.strerror or exc}) and putting back the {len(done)} file(s) "
            f"already written failed too ({undo_exc.strerror or undo_exc}); the next run rolls them back from "
            f"the promotion journal, or restore them with --restore {backup_dir.name}") from None
    raise PromotionError(f"writing {model_dir / name} failed ({exc.strerror or exc}); the {len(done)} file(s) "
                         f"already written were rolled back from {backup_dir}: model directory unchanged") from None
