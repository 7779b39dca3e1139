"""Promotion: turn verdicts into a reviewed plan of file changes, then apply it safely.

Only a passing codec's ONNX is ever replaced, and only after the new model passed every
contract check. Every replaced file is backed up first; writes are atomic; one applier at a
time holds the model-dir lock. A plan is pure data: the batch prints it, the console shows it
in a confirmation dialog, and the report records it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from trainer.artifacts import card_path, model_path, sha256_bytes, sha256_file
from trainer.atomic import atomic_write_bytes, atomic_write_text
from trainer.cards import CardFacts, production_block, proposed_block, render_body, with_status
from trainer.codecs import CODEC_INDEX, SUPPORTED_CODECS
from trainer.corpus import CodecData
from trainer.engine import FinalModel
from trainer.onnx_export import build_onnx, graph_ops, validate_onnx
from trainer.results import CodecResult

STAMP_PATTERN = re.compile(r"^\d{8}T\d{6}Z(?:-\d+)?$")
MODEL_FILE_PATTERN = re.compile(r"^predictor_(?P<codec>[a-z0-9_-]+?)(?:\.onnx|_card\.md)$")
LOCK_NAME = ".lock"
OWNER_NAME = ".lock.owner"


class ModelDirLocked(Exception):
    """Another run holds the model directory."""


class PromotionError(Exception):
    """The plan could not be applied as reviewed (nothing was changed)."""


@dataclass(frozen=True)
class PlannedChange:
    codec: str
    path: str
    action: str  # replace-model | rewrite-card | patch-card-status
    old_sha256: str | None
    new_sha256: str
    reason: str
    content: bytes = field(repr=False, compare=False)

    def as_report(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in ("codec", "path", "action", "old_sha256", "new_sha256", "reason")}


@dataclass
class PromotionPlan:
    changes: list[PlannedChange] = field(default_factory=list)
    blocked: dict[str, list[str]] = field(default_factory=dict)

    @property
    def promoted_codecs(self) -> list[str]:
        return [c.codec for c in self.changes if c.action == "replace-model"]

    def as_report(self) -> dict[str, object]:
        return {"planned": [c.as_report() for c in self.changes], "blocked": dict(self.blocked)}

    def describe(self) -> list[str]:
        if not self.changes and not self.blocked:
            return ["promotion plan: no model-dir changes (everything already up to date)"]
        lines = [f"promotion plan: {len(self.changes)} file change(s)"]
        for c in self.changes:
            old = (c.old_sha256 or "(new file)")[:12]
            lines.append(f"  {c.action:<17} {c.path}  {old} -> {c.new_sha256[:12]}  ({c.reason})")
        for codec, reasons in self.blocked.items():
            lines.append(f"  BLOCKED {codec}: {'; '.join(reasons)}")
        return lines


def _change(codec: str, path: Path, action: str, content: bytes, reason: str) -> PlannedChange | None:
    old = sha256_file(path)
    new = sha256_bytes(content)
    if old == new:
        return None  # already so: applying twice changes nothing
    return PlannedChange(codec, str(path), action, old, new, reason, content)


def describe_input(entry: dict[str, object]) -> str:
    """A corpus file as a committed card names it: file name, size, rows, sha256 — never the
    absolute path of the machine that trained (two operators promoting one corpus get one card)."""
    path = Path(str(entry["path"]))
    size, digest = entry.get("bytes"), entry.get("sha256")
    if size is None or digest is None:  # the console's live corpus: hash the file as it is now
        try:
            data = path.read_bytes()
            size, digest = len(data), sha256_bytes(data)
        except OSError:
            size, digest = "?", "unreadable"
    return f"`{path.name}` ({size} bytes, {entry['rows']} rows, sha256 `{digest}`)"


def _production_card(codec: str, onnx_bytes: bytes, data: CodecData, result: CodecResult, report: str) -> str:
    folds = ", ".join(
        f"fold{f.fold_index} PLCC {f.plcc:.4f} SROCC {f.srocc:.4f} RMSE {f.rmse:.2f}" for f in result.folds
    )
    facts = CardFacts(
        codec=codec,
        corpus_kind=f"real-N={data.n_rows}",
        n_rows=data.n_rows,
        n_sources=data.n_sources,
        data_files=[describe_input(entry) for entry in data.provenance],
        metrics_lines=[
            f"5-fold leave-one-source-out, seeded; the shipped model is then retrained on all {data.n_rows} rows.",
            f"- mean PLCC {result.mean_plcc:.4f}, spread {result.plcc_spread:.4f}",
            f"- {folds}",
        ],
        ops_used=graph_ops(onnx_bytes),
        onnx_sha256=sha256_bytes(onnx_bytes),
        onnx_bytes=len(onnx_bytes),
        stub=False,
    )
    return with_status(render_body(facts), production_block(result, report))


def plan_promotion(
    results: Mapping[str, CodecResult],
    finals: Mapping[str, FinalModel],
    datas: Mapping[str, CodecData],
    model_dir: Path,
    report_path: str,
) -> PromotionPlan:
    plan = PromotionPlan()
    report_name = Path(report_path).name  # cards are committed: no machine's directories in them
    for codec in sorted(results, key=SUPPORTED_CODECS.index):
        result = results[codec]
        card = card_path(model_dir, codec)
        blocked: list[str] = []
        if result.status == "pass":
            final = finals.get(codec)
            if datas[codec].n_generated:
                blocked.append(f"{datas[codec].n_generated} training rows are generated (\"synthetic\": true); "
                               "only a real corpus may replace a shipped model")
            elif final is None or final.weights is None:
                blocked.append(f"full-corpus retrain failed: {final.error if final else 'not run'}")
            else:
                onnx_bytes = build_onnx(final.weights, codec)
                blocked = validate_onnx(onnx_bytes, final.weights, datas[codec].features)
                if not blocked:
                    card_text = _production_card(codec, onnx_bytes, datas[codec], result, report_name)
                    for change in (
                        _change(codec, model_path(model_dir, codec), "replace-model", onnx_bytes,
                                f"gate cleared, mean PLCC {result.mean_plcc:.4f}"),
                        _change(codec, card, "rewrite-card", card_text.encode(), "Status: Production"),
                    ):
                        if change is not None:
                            plan.changes.append(change)
                    continue
            plan.blocked[codec] = blocked
        if not card.exists():
            plan.blocked.setdefault(codec, []).append(
                f"no card at {card}; run 'python -m trainer.stubs' to ship the stub first"
            )
            continue
        text = with_status(card.read_text(encoding="utf-8"),
                           proposed_block(result, report_name, [f"promotion blocked: {b}" for b in blocked]))
        why = "promotion blocked" if blocked else result.status
        change = _change(codec, card, "patch-card-status", text.encode(), f"Status: Proposed ({why})")
        if change is not None:
            plan.changes.append(change)
    return plan


@contextmanager
def model_dir_lock(model_dir: Path, purpose: str = "apply") -> Iterator[None]:
    """Hold the model directory; a second holder gets ModelDirLocked naming the first."""
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PromotionError(f"model directory {model_dir} cannot be created: {exc.strerror or exc}") from None
    lock = FileLock(str(model_dir / LOCK_NAME), timeout=0)
    owner_file = model_dir / OWNER_NAME
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = owner_file.read_text(encoding="utf-8").strip()
        except OSError:
            holder = "unknown holder"
        raise ModelDirLocked(f"model directory {model_dir} is locked by {holder}") from None
    except OSError as exc:  # after Timeout, which is an OSError too
        raise PromotionError(f"model directory {model_dir} is not writable: {exc.strerror or exc}") from None
    try:
        started = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            owner_file.write_text(f"pid {os.getpid()} on {socket.gethostname()} since {started} ({purpose}: "
                                  f"{' '.join(sys.argv[:3])})\n", encoding="utf-8")
        except OSError as exc:
            raise PromotionError(f"model directory {model_dir} is not writable: {exc.strerror or exc}") from None
        yield
    finally:
        owner_file.unlink(missing_ok=True)
        lock.release()


def unique_backup_dir(backup_root: Path, stamp: str) -> Path:
    """``backup_root/stamp``, or ``stamp-N`` when a run in the same second already took it."""
    candidate, n = backup_root / stamp, 1
    while candidate.exists():
        candidate, n = backup_root / f"{stamp}-{n}", n + 1
    return candidate


def _backup(paths: list[Path], backup_dir: Path) -> list[dict[str, str]]:
    backup_dir.mkdir(parents=True, exist_ok=False)
    manifest = []
    for path in paths:
        if path.exists():
            data = path.read_bytes()
            atomic_write_bytes(backup_dir / path.name, data)
            manifest.append({"file": path.name, "sha256": sha256_bytes(data)})
    atomic_write_text(backup_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return manifest


def apply_plan(plan: PromotionPlan, model_dir: Path, backup_root: Path, stamp: str) -> dict[str, object]:
    """Back up, then atomically write each planned file. Raises before writing if anything moved."""
    with model_dir_lock(model_dir):
        for change in plan.changes:
            if sha256_file(Path(change.path)) != change.old_sha256:
                raise PromotionError(f"{change.path} changed since the plan was made; nothing was written")
        backup_dir = unique_backup_dir(backup_root, stamp)
        try:
            _backup([Path(c.path) for c in plan.changes], backup_dir)
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
        _backup([model_dir / name for name, _ in entries], unique_backup_dir(backup_root, new_stamp))
        for name, data in entries:
            atomic_write_bytes(model_dir / name, data)
    return [str(model_dir / name) for name, _ in entries]
