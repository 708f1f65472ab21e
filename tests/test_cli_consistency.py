"""The command line reads the same way everywhere: one `--db-url`, help on every flag,
defaults shown, and `submit` never passes its own options on to the job by accident."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from voxguard.cli import build_parser, main


def _parsers(parser: argparse.ArgumentParser, name: str = "voxguard") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_flag_and_argument_has_help() -> None:
    missing = [
        (name, action.option_strings or action.dest)
        for name, parser in _parsers(build_parser())
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._SubParsersAction)
    ]
    assert missing == []


DB_COMMANDS = [
    ["review", "list"], ["review", "reviewers", "list"], ["models", "list"], ["policy", "show"],
    ["db", "upgrade"],
]


@pytest.mark.parametrize("command", DB_COMMANDS, ids=" ".join)
def test_db_url_before_or_after_the_action(command: list[str]) -> None:
    parser = build_parser()
    assert parser.parse_args([*command, "--db-url", "sqlite:///after"]).db_url == "sqlite:///after"
    assert parser.parse_args([command[0], "--db-url", "sqlite:///before", *command[1:]]).db_url == "sqlite:///before"
    assert parser.parse_args([command[0], "--url", "sqlite:///old", *command[1:]]).db_url == "sqlite:///old"
    assert parser.parse_args(command).db_url is None


@pytest.mark.parametrize("command", [["dashboard"], ["retrain"], ["scheduler"]], ids=" ".join)
def test_db_url_on_single_action_commands(command: list[str]) -> None:
    assert build_parser().parse_args([*command, "--db-url", "sqlite:///x"]).db_url == "sqlite:///x"


def test_the_old_url_spelling_is_hidden(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["models", "list", "--help"])
    out = capsys.readouterr().out
    assert "--db-url" in out and "--url" not in out.replace("--db-url", "")


def test_db_url_drives_the_real_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'flags.db'}"
    assert main(["db", "upgrade", "--db-url", url]) == 0
    assert main(["policy", "--db-url", url, "show"]) == 0
    assert main(["policy", "show", "--db-url", url]) == 0
    assert capsys.readouterr().out.count("enabled=") == 2


def test_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 1000)" in out  # --part-size
    with pytest.raises(SystemExit):
        main(["corpus", "audit", "--help"])
    assert "(default: 0)" in capsys.readouterr().out  # --seed 0 is a value, not "unset"
    assert "(default: False)" not in out and "(default: None)" not in out


def test_submit_refuses_its_own_options_after_the_job_path(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["submit", "score", "clips/", "--out", "s3://b/out", "--address", "http://127.0.0.1:1", "--wait"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("voxguard: error: --address, --wait after the job's arguments")
    assert err[0].endswith("voxguard submit score --address http://127.0.0.1:1 --wait -- clips/ --out s3://b/out")


def test_submit_passes_anything_after_a_double_dash() -> None:
    from voxguard.commands.submit import job_arguments

    assert job_arguments(["--", "clips/", "--wait"], "score") == ["clips/", "--wait"]
    assert job_arguments(["clips/", "--out", "x"], "score") == ["clips/", "--out", "x"]


def test_json_is_a_flag_everywhere_and_a_file_is_json_out() -> None:
    # `--json` prints JSON (a flag, no value) on every command that has it; writing a file is `--json-out FILE`.
    flags, outs = [], []
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            if "--json" in action.option_strings:
                flags.append((name, action.nargs == 0))
            if "--json-out" in action.option_strings:
                outs.append((name, action.nargs is None and action.metavar == "FILE"))
    assert flags and all(is_flag for _, is_flag in flags), flags
    assert sorted(outs) == [("voxguard bench engines", True), ("voxguard bench score", True)]
