"""Argument types of the ``flip`` command line: each refuses a value out of its range while
the arguments are parsed, so a stage never starts on one (``--shard-rows 0``, ``--top-n -1``,
``--spec @missing.json``, ``--view textEN``).

argparse turns the :class:`argparse.ArgumentTypeError` each raises into ``flip <stage>:
error: argument --option: <why>`` and exit status 2 (:class:`OneLineParser`: one line).
"""

from __future__ import annotations

import argparse
import json
from typing import Any, NoReturn

from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_json_object
from flip_pipeline.formats.corpus_table import VIEW_PATTERN


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, as every other ``flip`` error: the message
    and where the usage is (``--help``), not the usage itself; exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (usage: {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """A whole number ≥ 1 (rows per shard, the N of top-N, a batch size)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def spec_json(text: str) -> dict[str, Any]:
    """A JSON object given inline or as ``@file.json``."""
    if text.startswith("@"):
        try:
            return read_json_object(text[1:], "spec file")
        except FlipInputError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON ({err}); give a JSON object or @file.json") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object {{...}}, not {type(value).__name__}")
    return value


def view_name(text: str) -> str:
    """A view column name: ``text_xx`` or ``speech_xx`` (language: 2–3 lower-case letters)."""
    if not VIEW_PATTERN.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a view name (text_xx or speech_xx, e.g. text_en)")
    return text


def distinct(values: list[Any], option: str) -> tuple[Any, ...]:
    """``values`` of a list option, refused when one is given twice (two columns of one name)."""
    twice = [v for i, v in enumerate(values) if v in values[:i]]
    if twice:
        raise FlipInputError(f"argument {option}: {twice[0]} is given twice")
    return tuple(values)
