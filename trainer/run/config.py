"""Command-line options and environment, resolved once into a frozen RunConfig (flags beat env beats defaults).

The options themselves (flags, variables, defaults, faces, docs) are the table in ``options``;
this module turns parsed flags plus the environment into a RunConfig, and is the only place a
run's environment is read (every value through ``options.env_text``: stripped, blank is unset).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from trainer.core.codecs import SUPPORTED_CODECS, UnknownCodecError, parse_probe_quality, require_supported
from trainer.ingest.harness_probes import HarnessProbeError, HarnessProbes, load_harness_probes
from trainer.learning.profiles import PROFILES, TrainingProfile
from trainer.run.errors import ConfigError
from trainer.run.options import (
    DEFAULT_DEBOUNCE_S,
    DEFAULT_MODEL_DIR,
    DEFAULT_OUT_DIR,
    DEFAULT_ROOTS,
    DEFAULT_SCHEDULER_TIMEOUT_S,
    DEFAULT_SEED,
    OPTIONS,
    env_switch,
    env_text,
)

__all__ = ["ConfigError", "RunConfig", "resolve_config"]


@dataclass(frozen=True)
class RunConfig:
    corpus_files: list[Path]
    corpus_roots: list[Path]
    codecs: list[str]
    seed: int
    out_dir: Path
    report_path: Path
    model_dir: Path
    workers: int
    profile: TrainingProfile
    synthetic_smoke: bool = False
    allow_empty: bool = False
    yes: bool = False
    restore: str | None = None
    write_stubs: bool = False
    allow_regression: bool = False  # a passing codec may replace a shipped model that scores better on the same rows
    scheduler: str | None = None  # a Dask scheduler address, or local:N
    scheduler_timeout_s: float = DEFAULT_SCHEDULER_TIMEOUT_S
    junit_xml: Path | None = None
    summary_md: Path | None = None
    step_summary: Path | None = None  # GITHUB_STEP_SUMMARY: the Markdown summary is appended there too
    probe_quality: dict[str, float] = field(default_factory=dict)  # per-codec overrides of the harness's probe
    advise: bool = False  # the data advisor for failing codecs (learning curve over sources, outliers)
    # The harness's own probe of corpus clips: held-out picks are judged again with it (never trained on).
    harness_probes: HarnessProbes | None = None
    train_on_harness_probes: bool = False  # ... and train on them as explicit probe inputs
    debounce_s: float = DEFAULT_DEBOUNCE_S  # console: quiet period before changed corpus files are re-read
    auto_train: bool = True  # console: changed codecs retrain (else they go stale)
    argv: list[str] = field(default_factory=list)

    @property
    def probe_measurements(self) -> HarnessProbes | None:
        """The harness probes a corpus trains on (``--train-on-harness-probes``), else None."""
        return self.harness_probes if self.train_on_harness_probes else None

    def as_dict(self) -> dict[str, object]:
        """Provenance: every option of the table (mode flags aside), as the run resolved it."""
        return {option.name: self._provenance(option.name) for option in OPTIONS if option.in_config}

    def _provenance(self, name: str) -> object:
        if name == "epochs":
            return self.profile.epochs
        if name == "profile":
            return self.profile.name
        if name == "harness_probes":
            return list(self.harness_probes.files) if self.harness_probes else []
        value = getattr(self, name)
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, list):
            return [str(v) if isinstance(v, Path) else v for v in value]
        return dict(value) if isinstance(value, dict) else value


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value and value.strip() else None


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    raw = env_text(env, name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable {name}={raw!r} is not an integer") from exc


def _probe_quality_table(specs: Sequence[str], where: str) -> dict[str, float]:
    table: dict[str, float] = {}
    for spec in specs:
        try:
            codec, quality = parse_probe_quality(spec)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if codec in table and table[codec] != quality:
            raise ConfigError(f"{where}: {codec} given twice ({table[codec]:g} and {quality:g})")
        table[codec] = quality
    return table


def resolve_probe_quality(flags: Sequence[str], env: Mapping[str, str]) -> dict[str, float]:
    """Per-codec probe-quality overrides, env PROBE_QUALITY first, each flag winning for its codec."""
    table = _probe_quality_table((env_text(env, "PROBE_QUALITY") or "").split(), "environment variable PROBE_QUALITY")
    table.update(_probe_quality_table(flags, "--probe-quality"))
    return {codec: table[codec] for codec in SUPPORTED_CODECS if codec in table}


def resolve_harness_probes(flags: Sequence[str], env: Mapping[str, str]) -> HarnessProbes | None:
    """The flags' files, else the environment's; read now, so a bad line is exit 2 before any training."""
    paths = [Path(p) for p in (flags or (env_text(env, "HARNESS_PROBES") or "").split())]
    if not paths:
        return None
    try:
        return load_harness_probes(paths)
    except HarnessProbeError as exc:
        where = "--harness-probes" if flags else "environment variable HARNESS_PROBES"
        raise ConfigError(f"{where}: {exc}") from exc


def resolve_config(
    args: argparse.Namespace, env: Mapping[str, str] | None = None, argv: Sequence[str] = ()
) -> RunConfig:
    """The run's configuration from parsed flags (either face's parser) and the environment."""
    env = os.environ if env is None else env
    try:
        codecs = [require_supported(c) for c in args.codec] or list(SUPPORTED_CODECS)
    except UnknownCodecError as exc:
        raise ConfigError(str(exc)) from exc
    codecs = [c for c in SUPPORTED_CODECS if c in set(codecs)]

    files = [Path(p) for p in args.corpus]
    if not files and env_text(env, "CORPUS"):
        files = [Path(str(env_text(env, "CORPUS")))]
    for path in files:
        if not path.is_file() or not os.access(path, os.R_OK):
            raise ConfigError(f"--corpus {path}: not a readable file")
    roots = [Path(p) for p in args.corpus_root]
    if not roots and not files:
        env_roots = (env_text(env, "CORPUS_ROOTS") or "").split()
        roots = [Path(p) for p in (env_roots or DEFAULT_ROOTS)]
    roots = [Path(os.path.expanduser(str(p))) for p in roots]

    epochs = args.epochs if args.epochs is not None else _env_int(env, "EPOCHS")
    seed = args.seed if args.seed is not None else _env_int(env, "SEED")
    profile = PROFILES[args.profile or "default"]
    if epochs is not None:
        if epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {epochs}")
        profile = replace(profile, epochs=epochs)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")

    harness_probes = resolve_harness_probes(args.harness_probes, env)
    train_on_probes = args.train_on_harness_probes or env_switch(env, "TRAIN_ON_HARNESS_PROBES")
    if train_on_probes and harness_probes is None:
        raise ConfigError("--train-on-harness-probes needs --harness-probes FILE (or HARNESS_PROBES)")
    out_dir = Path(args.out_dir or env_text(env, "OUT_DIR") or DEFAULT_OUT_DIR)
    report_path = Path(args.report_out or env_text(env, "REPORT_PATH") or out_dir / "report.json")
    model_dir = Path(args.model_dir or env_text(env, "MODEL_DIR") or DEFAULT_MODEL_DIR)
    debounce = getattr(args, "debounce", None)
    return RunConfig(
        corpus_files=files,
        corpus_roots=roots,
        codecs=codecs,
        seed=DEFAULT_SEED if seed is None else seed,
        out_dir=out_dir,
        report_path=report_path,
        model_dir=model_dir,
        workers=workers,
        profile=profile,
        synthetic_smoke=args.synthetic_smoke,
        allow_empty=args.allow_empty or env_switch(env, "ALLOW_EMPTY"),
        yes=args.yes,
        restore=args.restore,
        write_stubs=args.write_stubs,
        allow_regression=args.allow_regression or env_switch(env, "ALLOW_REGRESSION"),
        scheduler=args.scheduler or env_text(env, "DASK_SCHEDULER_ADDRESS"),
        scheduler_timeout_s=(args.scheduler_timeout if args.scheduler_timeout is not None
                             else DEFAULT_SCHEDULER_TIMEOUT_S),
        junit_xml=_optional_path(args.junit_xml or env_text(env, "JUNIT_XML")),
        summary_md=_optional_path(args.summary_md or env_text(env, "SUMMARY_MD")),
        step_summary=_optional_path(env_text(env, "GITHUB_STEP_SUMMARY")),
        probe_quality=resolve_probe_quality(args.probe_quality, env),
        advise=args.advise or env_switch(env, "ADVISE"),
        harness_probes=harness_probes,
        train_on_harness_probes=train_on_probes,
        debounce_s=DEFAULT_DEBOUNCE_S if debounce is None else debounce,
        auto_train=not getattr(args, "no_auto_train", False),
        argv=list(argv),
    )
