"""The promotion journal: what a set of model-dir writes is about to do, so a killed run can be repaired.

Each file is replaced atomically, but a set (an ONNX and its card, several codecs) is not: a
``kill -9`` between two replacements leaves a new model beside an old card. So before the first
replacement ``model/.promotion-journal.json`` lists every file of the set with its new sha256 and
where its old bytes are (a backup file, or "created" when it did not exist), and it is removed
after the last. A run that finds one (under the model-dir lock, before anything else) finishes the
set when every file already has its new bytes, and otherwise puts the old set back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from trainer.core.atomic import atomic_write_bytes, atomic_write_text
from trainer.shipping.artifacts import sha256_bytes, sha256_file
from trainer.shipping.lock import ModelDirLocked, PromotionError, model_dir_lock

JOURNAL_NAME = ".promotion-journal.json"
CREATED = "created"  # the file did not exist before the set: rolling back removes it


@dataclass(frozen=True)
class JournalEntry:
    file: str  # a name inside the model directory, never a path
    new_sha256: str | None  # None: the set removes the file
    backup: str  # the backup file's path, or CREATED
    old_sha256: str | None

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "new_sha256": self.new_sha256, "backup": self.backup,
                "old_sha256": self.old_sha256}


def journal_path(model_dir: Path) -> Path:
    return Path(model_dir) / JOURNAL_NAME


def has_journal(model_dir: Path) -> bool:
    return journal_path(model_dir).exists()


def write_journal(model_dir: Path, purpose: str, backup_dir: Path, entries: list[JournalEntry]) -> None:
    """Written (atomically) before the first replacement of the set."""
    record = {"purpose": purpose, "pid": os.getpid(), "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
              "backup_dir": str(Path(backup_dir).resolve()), "files": [e.as_dict() for e in entries]}
    atomic_write_text(journal_path(model_dir), json.dumps(record, indent=2) + "\n")


def remove_journal(model_dir: Path) -> None:
    """After the last replacement: the set is complete (or fully rolled back)."""
    path = journal_path(model_dir)
    path.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read(model_dir: Path) -> tuple[dict[str, object], list[JournalEntry]]:
    path = journal_path(model_dir)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        entries = [JournalEntry(str(f["file"]), f["new_sha256"], str(f["backup"]), f["old_sha256"])
                   for f in record["files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PromotionError(f"promotion journal {path} is unreadable ({exc}); compare the model directory with "
                             "the backups under OUT_DIR/backup, then remove the journal by hand") from None
    for entry in entries:
        if Path(entry.file).name != entry.file or entry.file.startswith("."):
            raise PromotionError(f"promotion journal {path} names {entry.file!r}, which is not a model file")
    return record, entries


def recover(model_dir: Path) -> dict[str, object] | None:
    """Finish or undo an interrupted set. Call under the model-dir lock; None when there was no journal.

    Forward when every file already holds its new bytes (the run died after the last replacement,
    before removing the journal); otherwise back: each file from its backup (checked against the
    old sha256), each created file removed. Raises PromotionError, leaving the journal, when a
    backup it needs is missing or damaged.
    """
    if not has_journal(model_dir):
        return None
    record, entries = _read(model_dir)
    done = all(sha256_file(model_dir / e.file) == e.new_sha256 for e in entries)
    if not done:
        restores = []
        for entry in entries:
            if entry.backup == CREATED:
                continue
            try:
                data = Path(entry.backup).read_bytes()
            except OSError as exc:
                raise PromotionError(f"an interrupted promotion cannot be rolled back: backup {entry.backup} is "
                                     f"unreadable ({exc.strerror or exc}); journal left at "
                                     f"{journal_path(model_dir)}") from None
            if sha256_bytes(data) != entry.old_sha256:
                raise PromotionError(f"an interrupted promotion cannot be rolled back: backup {entry.backup} does "
                                     f"not match its recorded sha256; journal left at {journal_path(model_dir)}")
            restores.append((entry, data))
        for entry, data in restores:
            if sha256_file(model_dir / entry.file) != entry.old_sha256:
                atomic_write_bytes(model_dir / entry.file, data)
        for entry in entries:
            if entry.backup == CREATED:
                (model_dir / entry.file).unlink(missing_ok=True)
    remove_journal(model_dir)
    action = "rolled-forward" if done else "rolled-back"
    return {"action": action, "purpose": record.get("purpose"), "started_utc": record.get("started_utc"),
            "pid": record.get("pid"), "backup_dir": record.get("backup_dir"), "files": [e.file for e in entries]}


def recover_model_dir(model_dir: Path) -> dict[str, object] | None:
    """What every run does first: with no journal, nothing (no lock is taken); with one, take the
    lock and repair the set. A journal whose writer still holds the lock is that live run's own
    (it finishes or rolls back its set itself): left alone."""
    if not has_journal(model_dir):
        return None
    try:
        with model_dir_lock(Path(model_dir), purpose="recover"):
            return recover(Path(model_dir))
    except ModelDirLocked:
        return None


def describe_recovery(recovered: dict[str, object]) -> str:
    """One line for stderr and the log."""
    files = recovered["files"]
    n = len(files) if isinstance(files, list) else 0
    if recovered["action"] == "rolled-forward":
        what = f"all {n} file(s) already had their new bytes: finished it"
    else:
        what = f"rolled its {n} file(s) back to the previous set from {recovered['backup_dir']}"
    return (f"found an interrupted {recovered['purpose']} (pid {recovered['pid']}, started "
            f"{recovered['started_utc']}) in the model directory: {what}")
