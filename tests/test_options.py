"""One table of options: both parsers, the environment, the refusals, provenance and docs/cli.md come from it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from trainer.run import options
from trainer.run.cli import build_parser
from trainer.run.config import resolve_config
from trainer.run.exits import EPILOG

CLI_MD = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_docs_cli_md_is_the_generated_text():
    assert CLI_MD.read_text(encoding="utf-8") == options.cli_markdown(EPILOG), (
        "docs/cli.md is stale: python -m trainer.run.options > docs/cli.md")


def test_every_option_is_in_docs_cli_md_and_every_documented_flag_is_an_option():
    text = CLI_MD.read_text(encoding="utf-8")
    table_flags = {o.flag for o in options.OPTIONS if o.flag}
    documented = set(re.findall(r"`(--[a-z][a-z-]*)", text))
    assert documented == table_flags
    for option in options.OPTIONS:
        if option.env:
            assert f"`{option.env}" in text, option.env
    assert "`JUNIT_XML`" in text and "`SUMMARY_MD`" in text and "`GITHUB_STEP_SUMMARY`" in text


def test_each_parser_has_exactly_its_faces_flags():
    from console.cli import build_console_parser

    def flags(parser):
        return {s for action in parser._actions for s in action.option_strings if s.startswith("--")} - {"--help"}

    assert flags(build_console_parser()) == {o.flag for o in options.FLAGGED}
    assert flags(build_parser("python -m trainer")) == {o.flag for o in options.FLAGGED if o.face != options.CONSOLE}


def test_provenance_names_every_option():
    config = resolve_config(build_parser("t").parse_args([]), env={})
    assert set(config.as_dict()) == {o.name for o in options.OPTIONS if o.in_config}
    args = config.as_dict()
    assert args["restore"] is None and args["write_stubs"] is False and args["scheduler_timeout_s"] == 10.0


def test_the_config_is_frozen():
    config = resolve_config(build_parser("t").parse_args([]), env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 3  # type: ignore[misc]


def test_environment_values_are_stripped_and_blank_is_unset(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("")
    env = {"OUT_DIR": f" {tmp_path / 'o'} ", "MODEL_DIR": " m\n", "REPORT_PATH": "  ", "CORPUS": f" {corpus} ",
           "JUNIT_XML": "  ", "SUMMARY_MD": f" {tmp_path / 's.md'}", "DASK_SCHEDULER_ADDRESS": "  ",
           "ADVISE": " 1 ", "ALLOW_EMPTY": "1\n", "ALLOW_REGRESSION": " 1", "SEED": " 4 ", "EPOCHS": " 3 ",
           "GITHUB_STEP_SUMMARY": " "}
    config = resolve_config(build_parser("t").parse_args([]), env=env)
    assert config.out_dir == tmp_path / "o" and config.model_dir == Path("m")
    assert config.report_path == tmp_path / "o" / "report.json"
    assert config.corpus_files == [corpus]
    assert config.junit_xml is None and config.summary_md == tmp_path / "s.md" and config.step_summary is None
    assert config.scheduler is None and config.advise and config.allow_empty and config.allow_regression
    assert config.seed == 4 and config.profile.epochs == 3


@pytest.mark.parametrize("flags", [["--junit-xml", "out.xml"], ["--summary-md", "s.md"], ["--yes"], ["--advise"],
                                   ["--allow-regression"], ["--restore", "20260101T000000Z"]])
def test_a_batch_only_flag_in_the_console_exits_2_with_one_line(tmp_path, capsys, flags):
    from console.cli import main

    corpus = tmp_path / "c.jsonl"
    corpus.write_text("")
    assert main([*flags, "--corpus", str(corpus)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == f"predictor-console: error: {flags[0]} only apply with --batch (the console asks before it " \
                   "writes, and shows advice on request)"


@pytest.mark.parametrize("flags", [["--debounce", "1"], ["--no-auto-train"]])
def test_a_console_only_flag_with_batch_exits_2_with_one_line(capsys, flags):
    from console.cli import main

    assert main(["--batch", *flags]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == f"predictor-console: error: {flags[0]} only apply to the console, not --batch"


def test_console_options_resolve_into_the_config():
    from console.cli import build_console_parser

    parser = build_console_parser()
    assert resolve_config(parser.parse_args([]), env={}).debounce_s == options.DEFAULT_DEBOUNCE_S
    config = resolve_config(parser.parse_args(["--debounce", "2", "--no-auto-train"]), env={})
    assert config.debounce_s == 2.0 and config.auto_train is False
