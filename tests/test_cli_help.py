"""`flip --help` and every `flip COMMAND --help`: user commands listed apart from the pipeline stages, the
exit statuses said once, every option with help text and its default shown, an example on every page
that parses as that command's arguments."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from flip_pipeline.cli import COMMANDS, build_parser, main
from flip_pipeline.cli_types import EXAMPLES, USER_COMMANDS


def help_page(capsys, *args: str) -> str:
    assert main([*args, "--help"]) == 0
    return capsys.readouterr().out


def subparsers() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def example_commands(command: str) -> list[list[str]]:
    """Each command line of ``command``'s example, as arguments after ``flip`` (continuations joined)."""
    text = EXAMPLES[command].replace("\\\n", " ")
    return [shlex.split(line, comments=True)[1:] for line in text.splitlines() if line.startswith("flip ")]


def test_flip_help_lists_user_commands_apart_from_stages_and_the_exit_statuses_once(capsys):
    page = help_page(capsys)
    users, stages = page.split("\ncommands:\n")[1].split("\npipeline stages")
    listed = lambda block: re.findall(r"^  ([a-z-]+) +[A-Z]", block, re.M)  # noqa: E731
    assert listed(users) == list(USER_COMMANDS)
    assert sorted(listed(users) + listed(stages.split("\n\n")[0])) == sorted(COMMANDS)
    assert page.count("exit status:") == 1
    for status in ("0", "2", "1", "141"):
        assert re.search(rf"^  {status} +\S", page, re.M), status


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_page_has_help_for_each_option_its_defaults_and_an_example(command, capsys):
    parser = subparsers()[command]
    for action in parser._actions:
        assert action.help and action.help.strip(), f"flip {command} {action.option_strings or action.dest}: no help"
        if action.option_strings and not action.required and action.default not in (None, False, argparse.SUPPRESS):
            assert "default" in parser.formatter_class(command)._get_help_string(action), action.option_strings
    page = help_page(capsys, command)
    assert f"usage: flip {command}" in page and f"\nexample:\n  flip {command} " in page


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_example_parses_as_its_commands_arguments(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in example_commands(command):
        for spec in (a[1:] for a in args if a.startswith("@")):  # the @file.json a spec names, as an empty entry
            Path(spec).parent.mkdir(parents=True, exist_ok=True)
            Path(spec).write_text("{}")
        parsed = build_parser().parse_args(args)
        assert parsed.command == command
