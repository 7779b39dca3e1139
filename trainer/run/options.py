"""Every option of both faces in one table: flag, environment variable, default, parser, face, group, doc.

From this table come ``python -m trainer``'s and ``predictor-console``'s argparse parsers, the
environment reading (``env_text``: values stripped, empty means unset), the refusals (a batch-only
flag in the console, a console-only flag with ``--batch``: exit 2, one line), ``RunConfig.as_dict``
(provenance names every option) and ``docs/cli.md`` (``python -m trainer.run.options > docs/cli.md``).
A new option is one row here plus its use.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from trainer.core.version import PrintVersion
from trainer.learning.profiles import PROFILES
from trainer.run.errors import ConfigError
from trainer.shipping.apply import KILL_HOOK_ENV

BATCH, CONSOLE, BOTH = "batch", "console", "both"
MODE, COMMON, BATCH_ONLY, CONSOLE_ONLY = "mode", "common options (batch and console)", "batch only", "console only"
DEFAULT_ROOTS = ("~/.workingdir2/netflix", "~/.workingdir2/konvid-150k", "~/.workingdir2/bvi-dvc-raw")
DEFAULT_OUT_DIR = "runs/predictor_v2_realcorpus"
DEFAULT_MODEL_DIR = "model"
DEFAULT_SEED = 0
DEFAULT_SCHEDULER_TIMEOUT_S = 10.0
DEFAULT_DEBOUNCE_S = 0.5
DESCRIPTION = "Train per-codec VMAF predictors under the ADR-0303 LOSO gate (5-fold leave-one-source-out)."


@dataclass(frozen=True)
class Option:
    """One option. ``name`` is its RunConfig field and provenance key; ``flag`` None: environment only."""

    name: str
    flag: str | None
    face: str  # BATCH, CONSOLE or BOTH
    group: str
    doc: str
    env: str | None = None
    default: str = ""  # as documented; resolution lives in config.resolve_config
    kind: str = "value"  # value | append | switch (store_true) | action (mode flags)
    metavar: str | None = None
    parse: Callable[[str], object] | None = None
    choices: tuple[str, ...] = ()
    env_note: str = ""  # how the variable is read, when not the flag's value as is
    in_config: bool = True  # False: a mode flag, not part of a run's configuration


# The table's short spelling of a row: Option itself, so the checker holds every row to its fields.
_opt = Option


OPTIONS: tuple[Option, ...] = (
    _opt("batch", "--batch", CONSOLE, MODE, "run headless: plain output, report + log files, exit code 0 iff every "
         "codec passes (predictor-console only; python -m trainer is always headless)", kind="action",
         in_config=False),
    _opt("version", "--version", BOTH, MODE, "print the project, torch and onnxruntime versions, then exit",
         kind="action", in_config=False),
    _opt("review", "--review", CONSOLE, MODE, "open a finished report.json read-only (no training, no watcher, "
         "nothing written)", metavar="REPORT", parse=Path, in_config=False),
    _opt("corpus_files", "--corpus", BOTH, COMMON, "a corpus JSONL file; wins over roots", env="CORPUS",
         kind="append", metavar="FILE", default="none", env_note="one file"),
    _opt("corpus_roots", "--corpus-root", BOTH, COMMON, "a directory searched recursively for *.jsonl",
         env="CORPUS_ROOTS", kind="append", metavar="DIR", default=" ".join(DEFAULT_ROOTS),
         env_note="space-separated"),
    _opt("codecs", "--codec", BOTH, COMMON, "train only this codec", kind="append", metavar="NAME",
         default="all 14"),
    _opt("epochs", "--epochs", BOTH, COMMON, "training epochs per model", env="EPOCHS", parse=int, metavar="N",
         default="the profile's"),
    _opt("seed", "--seed", BOTH, COMMON, "run seed", env="SEED", parse=int, metavar="N", default=str(DEFAULT_SEED)),
    _opt("report_path", "--report-out", BOTH, COMMON, "report path", env="REPORT_PATH", metavar="PATH",
         default="OUT_DIR/report.json"),
    _opt("out_dir", "--out-dir", BOTH, COMMON, "run outputs (log, report, backups)", env="OUT_DIR", metavar="DIR",
         default=DEFAULT_OUT_DIR),
    _opt("model_dir", "--model-dir", BOTH, COMMON, "model directory", env="MODEL_DIR", metavar="DIR",
         default=DEFAULT_MODEL_DIR),
    _opt("workers", "--workers", BOTH, COMMON, "training processes", parse=int, metavar="N", default="CPU cores"),
    _opt("scheduler", "--scheduler", BOTH, COMMON, "run fold tasks on this Dask cluster (tcp://HOST:8786), or "
         "start local:N worker processes", env="DASK_SCHEDULER_ADDRESS", metavar="ADDRESS",
         default="the local process pool"),
    _opt("scheduler_timeout_s", "--scheduler-timeout", BOTH, COMMON, "how long to try reaching --scheduler "
         "before exit 2", parse=float, metavar="SECONDS", default=f"{DEFAULT_SCHEDULER_TIMEOUT_S:g}"),
    _opt("probe_quality", "--probe-quality", BOTH, COMMON, "train CODEC's model for a harness that probes at "
         "quality Q instead of its default (e.g. 'libx264=26 libsvtav1=30'; a flag wins over the env for its "
         "codec)", env="PROBE_QUALITY", kind="append", metavar="CODEC=Q", default="the harness's",
         env_note="space-separated"),
    _opt("harness_probes", "--harness-probes", BOTH, COMMON, "JSON lines of the harness's own probe encode per "
         "clip (src, encoder, probe_crf, probe_bitrate_kbps, probe_i/p/b_frame_avg_bytes): held-out picks are "
         "judged again with them as the harness would feed them (crf_pick_harness_probe); never used for "
         "training", env="HARNESS_PROBES", kind="append", metavar="FILE", default="none",
         env_note="space-separated"),
    _opt("train_on_harness_probes", "--train-on-harness-probes", BOTH, COMMON, "also train on the "
         "--harness-probes measurements: each probed clip's rows take them as explicit probe inputs instead of "
         "values derived along its ladder", env="TRAIN_ON_HARNESS_PROBES", kind="switch", env_note="=1"),
    _opt("profile", "--profile", BOTH, COMMON, "'default' chooses network or embedded line by nested LOSO on "
         "small bitrate-ladder corpora; 'nested' also chooses the decay; 'reference' reproduces the old "
         "trainer's hyper-parameters for parity", choices=tuple(sorted(PROFILES)), default="default"),
    _opt("allow_empty", "--allow-empty", BOTH, COMMON, "with no corpus, report every codec as missing-rows "
         "instead of exiting 2", env="ALLOW_EMPTY", kind="switch", env_note="=1"),
    _opt("synthetic_smoke", "--synthetic-smoke", BATCH, BATCH_ONLY, "train on generated corpora; diagnostic "
         "only, never passes or promotes", kind="switch"),
    _opt("yes", "--yes", BATCH, BATCH_ONLY, "apply the promotion plan to the model directory (otherwise only "
         "print it)", kind="switch"),
    _opt("allow_regression", "--allow-regression", BATCH, BATCH_ONLY, "promote a passing codec even where the "
         "shipped model scores better on the rows it never saw (worse-than-incumbent); the card says so",
         env="ALLOW_REGRESSION", kind="switch", env_note="=1"),
    _opt("write_stubs", "--write-stubs", BATCH, BATCH_ONLY, "regenerate the synthetic stub model + card of each "
         "selected codec in the model dir, backing up what it replaces to OUT_DIR/backup/<UTC>, then exit",
         kind="switch"),
    _opt("restore", "--restore", BATCH, BATCH_ONLY, "put back the model files backed up by the run stamped UTC, "
         "then exit", metavar="UTC"),
    _opt("junit_xml", "--junit-xml", BATCH, BATCH_ONLY, "also write JUnit XML, one test case per codec",
         env="JUNIT_XML", metavar="PATH", default="none"),
    _opt("summary_md", "--summary-md", BATCH, BATCH_ONLY, "also write a Markdown summary for the pull request; "
         "with GITHUB_STEP_SUMMARY set it is appended there too", env="SUMMARY_MD", metavar="PATH",
         default="none"),
    _opt("step_summary", None, BATCH, BATCH_ONLY, "GitHub's job summary file: the Markdown summary is appended "
         "to it (set by GitHub Actions)", env="GITHUB_STEP_SUMMARY", default="none"),
    _opt("advise", "--advise", BATCH, BATCH_ONLY, "for each failing codec, also train on subsets of its sources: "
         "how many sources would pass the gate, and which sources the model gets wrong (costs several times the "
         "training time of those codecs)", env="ADVISE", kind="switch", env_note="=1"),
    _opt("debounce_s", "--debounce", CONSOLE, CONSOLE_ONLY, "quiet period before changed corpus files are re-read",
         parse=float, metavar="SECONDS", default=f"{DEFAULT_DEBOUNCE_S:g}"),
    _opt("auto_train", "--no-auto-train", CONSOLE, CONSOLE_ONLY, "start with auto-train off (changed codecs go "
         "stale instead of retraining)", kind="switch", default="auto-train on"),
)
BY_NAME = {option.name: option for option in OPTIONS}
FLAGGED = tuple(option for option in OPTIONS if option.flag)


def dest(option: Option) -> str:
    """The argparse attribute of a flag (``--report-out`` -> ``report_out``)."""
    assert option.flag is not None
    return option.flag.removeprefix("--").replace("-", "_")


def env_text(env: Mapping[str, str], name: str) -> str | None:
    """An environment variable's value, stripped; unset and blank are both None (every read goes here)."""
    value = env.get(name, "").strip()
    return value or None


def env_switch(env: Mapping[str, str], name: str) -> bool:
    """A ``NAME=1`` switch."""
    return env_text(env, name) == "1"


def help_text(option: Option) -> str:
    notes = ["repeatable"] if option.kind == "append" else []
    if option.env:
        notes.append(f"env {option.env}{option.env_note if option.env_note.startswith('=') else ''}"
                     + (f", {option.env_note}" if option.env_note and not option.env_note.startswith("=") else ""))
    if option.default and option.kind != "switch":
        notes.append(f"default {option.default}")
    return option.doc + (f" ({'; '.join(notes)})" if notes else "")


def _add(group: argparse._ActionsContainer, option: Option) -> None:
    """One option on ``group``: an argument group, or the parser itself (python -m trainer's --version)."""
    assert option.flag is not None
    help_ = help_text(option).replace("%", "%%")
    if option.name == "version":
        group.add_argument(option.flag, action=PrintVersion)
    elif option.kind in ("switch", "action"):
        group.add_argument(option.flag, action="store_true", help=help_)
    elif option.kind == "append":
        group.add_argument(option.flag, action="append", default=[], metavar=option.metavar, help=help_)
    else:
        # str is what argparse does with no type: keeps the text as given
        group.add_argument(option.flag, type=option.parse or str, metavar=option.metavar, help=help_,
                           choices=list(option.choices) or None)


def build_parser(prog: str, face: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """``face`` BATCH: ``python -m trainer`` (no mode, no console-only group); CONSOLE: ``predictor-console``."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog)
    groups = (MODE, COMMON, BATCH_ONLY, CONSOLE_ONLY) if face == CONSOLE else (MODE, COMMON, BATCH_ONLY)
    for title in groups:
        members = [o for o in FLAGGED if o.group == title and (face == CONSOLE or o.face != CONSOLE)]
        if title == MODE and face == BATCH:
            target = parser  # python -m trainer has only --version: no mode group of its own
            for option in members:
                _add(target, option)
            continue
        group = parser.add_argument_group(title)
        for option in members:
            _add(group, option)
    return parser


def _given(args: argparse.Namespace, option: Option) -> bool:
    value = getattr(args, dest(option), None)
    return value not in (None, False, [])


def refuse_other_face(args: argparse.Namespace, batch: bool) -> None:
    """Exit-2 refusal (ConfigError) of flags that belong to the other face; environment values never refuse."""
    if batch:
        wrong = [o.flag for o in FLAGGED if o.face == CONSOLE and o.group == CONSOLE_ONLY and _given(args, o)]
        if wrong:
            raise ConfigError(f"{', '.join(map(str, wrong))} only apply to the console, not --batch")
        return
    wrong = [o.flag for o in FLAGGED if o.face == BATCH and _given(args, o)]
    if wrong:
        raise ConfigError(f"{', '.join(map(str, wrong))} only apply with --batch (the console asks before it "
                          "writes, and shows advice on request)")


def cli_markdown(epilog: str) -> str:
    """docs/cli.md: generated from the table, so it cannot drift (a test compares the committed file)."""
    lines = ["# Command line", "",
             "<!-- Generated by `python -m trainer.run.options > docs/cli.md`; edit trainer/run/options.py. -->", "",
             DESCRIPTION, "",
             "Two faces, one set of options: `python -m trainer` (always headless) and `predictor-console` "
             "(opens the operator console; `--batch` runs headless, exactly as `python -m trainer`). "
             "A flag wins over its environment variable, which wins over the default. Environment values are "
             "stripped; a blank value counts as unset. A batch-only flag given to the console, or a console-only "
             "flag given with `--batch`, exits 2 with one line; environment variables never do.", ""]
    for title in (MODE, COMMON, BATCH_ONLY, CONSOLE_ONLY):
        lines += [f"## {title[0].upper()}{title[1:]}", "", "| flag | environment | default | faces | what |",
                  "|---|---|---|---|---|"]
        for o in (o for o in OPTIONS if o.group == title):
            flag = f"`{o.flag}{' ' + o.metavar if o.metavar else ''}`" if o.flag else "(environment only)"
            env = f"`{o.env}{o.env_note if o.env_note.startswith('=') else ''}`" if o.env else ""
            if o.env_note and not o.env_note.startswith("="):
                env += f" ({o.env_note})"
            repeat = " Repeatable." if o.kind == "append" else ""
            choices = f" One of {', '.join(f'`{c}`' for c in o.choices)}." if o.choices else ""
            lines.append(f"| {flag} | {env} | {o.default} | {o.face} | {o.doc}.{repeat}{choices} |")
        lines.append("")
    lines += ["## Exit codes", "", *(f"- {part}" for part in epilog.removeprefix("exit codes: ").split("; ")), "",
              "## Test-only hook", "",
              f"`{KILL_HOOK_ENV}=1` makes the process SIGKILL itself right after the first file of a promotion "
              "is replaced, so a test can prove the journal repairs a half-written set. It is read where it "
              "acts (`trainer/shipping/apply.py`), not here, and must never be set outside tests.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    from trainer.run.exits import EPILOG

    sys.stdout.write(cli_markdown(EPILOG))
