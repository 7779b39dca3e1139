"""Command-line options and environment, resolved once into a RunConfig (flags beat env beats defaults)."""

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

__all__ = ["ConfigError", "RunConfig", "add_run_arguments", "resolve_config"]

DEFAULT_ROOTS = ("~/.workingdir2/netflix", "~/.workingdir2/konvid-150k", "~/.workingdir2/bvi-dvc-raw")
DEFAULT_OUT_DIR = "runs/predictor_v2_realcorpus"
DEFAULT_MODEL_DIR = "model"
DEFAULT_SEED = 0


@dataclass
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
    scheduler_timeout_s: float = 10.0
    junit_xml: Path | None = None
    summary_md: Path | None = None
    probe_quality: dict[str, float] = field(default_factory=dict)  # per-codec overrides of the harness's probe
    advise: bool = False  # the data advisor for failing codecs (learning curve over sources, outliers)
    # The harness's own probe of corpus clips: held-out picks are judged again with it (never trained on).
    harness_probes: HarnessProbes | None = None
    train_on_harness_probes: bool = False  # ... and train on them as explicit probe inputs
    argv: list[str] = field(default_factory=list)

    @property
    def probe_measurements(self) -> HarnessProbes | None:
        """The harness probes a corpus trains on (``--train-on-harness-probes``), else None."""
        return self.harness_probes if self.train_on_harness_probes else None

    def as_dict(self) -> dict[str, object]:
        return {
            "corpus_files": [str(p) for p in self.corpus_files],
            "corpus_roots": [str(p) for p in self.corpus_roots],
            "codecs": list(self.codecs),
            "seed": self.seed,
            "epochs": self.profile.epochs,
            "profile": self.profile.name,
            "out_dir": str(self.out_dir),
            "report_path": str(self.report_path),
            "model_dir": str(self.model_dir),
            "workers": self.workers,
            "synthetic_smoke": self.synthetic_smoke,
            "allow_empty": self.allow_empty,
            "yes": self.yes,
            "allow_regression": self.allow_regression,
            "scheduler": self.scheduler,
            "junit_xml": str(self.junit_xml) if self.junit_xml else None,
            "summary_md": str(self.summary_md) if self.summary_md else None,
            "probe_quality": dict(self.probe_quality),
            "advise": self.advise,
            "harness_probes": list(self.harness_probes.files) if self.harness_probes else [],
            "train_on_harness_probes": self.train_on_harness_probes,
        }


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both faces share, then the batch-only ones, each group titled for --help."""
    common = parser.add_argument_group("common options (batch and console)")
    common.add_argument("--corpus", action="append", default=[], metavar="FILE",
                        help="a corpus JSONL file (repeatable; env CORPUS; wins over roots)")
    common.add_argument("--corpus-root", action="append", default=[], metavar="DIR",
                        help="a directory searched recursively for *.jsonl (repeatable; env CORPUS_ROOTS, "
                        f"space-separated; default {' '.join(DEFAULT_ROOTS)})")
    common.add_argument("--codec", action="append", default=[], metavar="NAME",
                        help="train only this codec (repeatable; default: all 14)")
    common.add_argument("--epochs", type=int, help="training epochs per model (env EPOCHS)")
    common.add_argument("--seed", type=int, help=f"run seed (env SEED; default {DEFAULT_SEED})")
    common.add_argument("--report-out", metavar="PATH",
                        help="report path (env REPORT_PATH; default OUT_DIR/report.json)")
    common.add_argument("--out-dir", metavar="DIR", help=f"run outputs (env OUT_DIR; default {DEFAULT_OUT_DIR})")
    common.add_argument("--model-dir", metavar="DIR",
                        help=f"model directory (env MODEL_DIR; default {DEFAULT_MODEL_DIR})")
    common.add_argument("--workers", type=int, help="training processes (default: CPU cores)")
    common.add_argument("--scheduler", metavar="ADDRESS",
                        help="run fold tasks on this Dask cluster (tcp://HOST:8786), or start local:N worker "
                        "processes (env DASK_SCHEDULER_ADDRESS; default: the local process pool)")
    common.add_argument("--scheduler-timeout", type=float, metavar="SECONDS",
                        help="how long to try reaching --scheduler before exit 2 (default 10)")
    common.add_argument("--probe-quality", action="append", default=[], metavar="CODEC=Q",
                        help="train CODEC's model for a harness that probes at quality Q instead of its default "
                        "(repeatable; env PROBE_QUALITY, space-separated, e.g. 'libx264=26 libsvtav1=30'; "
                        "a flag wins over the env for its codec)")
    common.add_argument("--harness-probes", action="append", default=[], metavar="FILE",
                        help="JSON lines of the harness's own probe encode per clip (src, encoder, probe_crf, "
                        "probe_bitrate_kbps, probe_i/p/b_frame_avg_bytes): held-out picks are judged again with "
                        "them as the harness would feed them (crf_pick_harness_probe); never used for training "
                        "(repeatable; env HARNESS_PROBES, space-separated)")
    common.add_argument("--train-on-harness-probes", action="store_true",
                        help="also train on the --harness-probes measurements: each probed clip's rows take them "
                        "as explicit probe inputs instead of values derived along its ladder (env "
                        "TRAIN_ON_HARNESS_PROBES=1)")
    common.add_argument("--profile", choices=sorted(PROFILES), default="default",
                        help="'default' chooses network or embedded line by nested LOSO on small bitrate-ladder "
                        "corpora; 'nested' also chooses the decay; 'reference' reproduces the old trainer's "
                        "hyper-parameters for parity")
    common.add_argument("--allow-empty", action="store_true",
                        help="with no corpus, report every codec as missing-rows instead of exiting 2 "
                        "(env ALLOW_EMPTY=1)")
    batch = parser.add_argument_group("batch only")
    batch.add_argument("--synthetic-smoke", action="store_true",
                       help="train on generated corpora; diagnostic only, never passes or promotes")
    batch.add_argument("--yes", action="store_true",
                       help="apply the promotion plan to the model directory (otherwise only print it)")
    batch.add_argument("--allow-regression", action="store_true",
                       help="promote a passing codec even where the shipped model scores better on the rows it "
                       "never saw (worse-than-incumbent); the card says so (env ALLOW_REGRESSION=1)")
    batch.add_argument("--write-stubs", action="store_true",
                       help="regenerate the synthetic stub model + card of each selected codec in the model dir, "
                       "then exit (same as python -m trainer.stubs)")
    batch.add_argument("--restore", metavar="UTC",
                       help="put back the model files backed up by the run stamped UTC, then exit")
    batch.add_argument("--junit-xml", metavar="PATH",
                       help="also write JUnit XML, one test case per codec (env JUNIT_XML)")
    batch.add_argument("--summary-md", metavar="PATH",
                       help="also write a Markdown summary for the pull request (env SUMMARY_MD); with "
                       "GITHUB_STEP_SUMMARY set it is appended there too")
    batch.add_argument("--advise", action="store_true",
                       help="for each failing codec, also train on subsets of its sources: how many sources "
                       "would pass the gate, and which sources the model gets wrong (env ADVISE=1; costs "
                       "several times the training time of those codecs)")


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value and value.strip() else None


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
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
    table = _probe_quality_table(env.get("PROBE_QUALITY", "").split(), "environment variable PROBE_QUALITY")
    table.update(_probe_quality_table(flags, "--probe-quality"))
    return {codec: table[codec] for codec in SUPPORTED_CODECS if codec in table}


def resolve_harness_probes(flags: Sequence[str], env: Mapping[str, str]) -> HarnessProbes | None:
    """The flags' files, else the environment's; read now, so a bad line is exit 2 before any training."""
    paths = [Path(p) for p in (flags or env.get("HARNESS_PROBES", "").split())]
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
    env = os.environ if env is None else env
    try:
        codecs = [require_supported(c) for c in args.codec] or list(SUPPORTED_CODECS)
    except UnknownCodecError as exc:
        raise ConfigError(str(exc)) from exc
    codecs = [c for c in SUPPORTED_CODECS if c in set(codecs)]

    files = [Path(p) for p in args.corpus]
    if not files and env.get("CORPUS", "").strip():
        files = [Path(env["CORPUS"].strip())]
    for path in files:
        if not path.is_file() or not os.access(path, os.R_OK):
            raise ConfigError(f"--corpus {path}: not a readable file")
    roots = [Path(p) for p in args.corpus_root]
    if not roots and not files:
        env_roots = env.get("CORPUS_ROOTS", "").split()
        roots = [Path(p) for p in (env_roots or DEFAULT_ROOTS)]
    roots = [Path(os.path.expanduser(str(p))) for p in roots]

    epochs = args.epochs if args.epochs is not None else _env_int(env, "EPOCHS")
    seed = args.seed if args.seed is not None else _env_int(env, "SEED")
    profile = PROFILES[args.profile]
    if epochs is not None:
        if epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {epochs}")
        profile = replace(profile, epochs=epochs)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")

    harness_probes = resolve_harness_probes(getattr(args, "harness_probes", []), env)
    train_on_probes = getattr(args, "train_on_harness_probes", False) or env.get("TRAIN_ON_HARNESS_PROBES", "") == "1"
    if train_on_probes and harness_probes is None:
        raise ConfigError("--train-on-harness-probes needs --harness-probes FILE (or HARNESS_PROBES)")
    out_dir = Path(args.out_dir or env.get("OUT_DIR") or DEFAULT_OUT_DIR)
    report_path = Path(args.report_out or env.get("REPORT_PATH") or out_dir / "report.json")
    model_dir = Path(args.model_dir or env.get("MODEL_DIR") or DEFAULT_MODEL_DIR)
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
        allow_empty=args.allow_empty or env.get("ALLOW_EMPTY", "") == "1",
        yes=args.yes,
        restore=args.restore,
        write_stubs=args.write_stubs,
        allow_regression=args.allow_regression or env.get("ALLOW_REGRESSION", "") == "1",
        scheduler=(args.scheduler or env.get("DASK_SCHEDULER_ADDRESS", "").strip() or None),
        scheduler_timeout_s=args.scheduler_timeout if args.scheduler_timeout is not None else 10.0,
        junit_xml=_optional_path(args.junit_xml or env.get("JUNIT_XML")),
        summary_md=_optional_path(args.summary_md or env.get("SUMMARY_MD")),
        probe_quality=resolve_probe_quality(args.probe_quality, env),
        advise=getattr(args, "advise", False) or env.get("ADVISE", "").strip() == "1",
        harness_probes=harness_probes,
        train_on_harness_probes=train_on_probes,
        argv=list(argv),
    )
