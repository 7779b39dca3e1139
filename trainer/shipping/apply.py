"""Applying a reviewed plan: verify nothing moved, back up, write each file atomically, roll back on failure."""

from __future__ import annotations

from pathlib import Path

from trainer.core.atomic import atomic_write_bytes
from trainer.shipping.artifacts import sha256_file
from trainer.shipping.backup import unique_backup_dir, write_backup
from trainer.shipping.lock import PromotionError, model_dir_lock
from trainer.shipping.plan import PlannedChange, PromotionPlan


def apply_plan(plan: PromotionPlan, model_dir: Path, backup_root: Path, stamp: str) -> dict[str, object]:
    """Back up, then atomically write each planned file. Raises before writing if anything moved."""
    with model_dir_lock(model_dir):
        for change in plan.changes:
            if sha256_file(Path(change.path)) != change.old_sha256:
                raise PromotionError(f"{change.path} changed since the plan was made; nothing was written")
        backup_dir = unique_backup_dir(backup_root, stamp)
        try:
            write_backup([Path(c.path) for c in plan.changes], backup_dir)
        except OSError as exc:
            raise PromotionError(f"backup to {backup_dir} failed ({exc.strerror or exc}); nothing was written") \
                from None
        written: list[PlannedChange] = []
        try:
            for change in plan.changes:
                atomic_write_bytes(Path(change.path), change.content)
                written.append(change)
        except OSError as exc:
            try:
                _roll_back(written, backup_dir)
            except OSError as undo_exc:
                raise PromotionError(
                    f"writing {change.path} failed ({exc.strerror or exc}) and putting back the {len(written)} "
                    f"file(s) already written failed too ({undo_exc.strerror or undo_exc}); restore them with "
                    f"--restore {backup_dir.name}") from None
            raise PromotionError(f"writing {change.path} failed ({exc.strerror or exc}); the {len(written)} file(s) "
                                 f"already written were rolled back from {backup_dir}: model directory unchanged") \
                from None
    return {"applied": [c.as_report() for c in plan.changes], "backup": str(backup_dir),
            "backup_stamp": backup_dir.name}


def _roll_back(written: list[PlannedChange], backup_dir: Path) -> None:
    """Undo a partly applied plan: old files from the backup, new files removed."""
    for change in reversed(written):
        path = Path(change.path)
        if change.old_sha256 is None:
            path.unlink(missing_ok=True)
        else:
            atomic_write_bytes(path, (backup_dir / path.name).read_bytes())

