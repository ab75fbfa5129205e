"""Reading config files: the one YAML loader of every config the workflow reads (``config.yaml``
and each ``--configfile``), with the file, line and column in every error.

JSON is read as YAML. Besides syntax errors it refuses what YAML parsers accept silently or
what is no config: a key given twice in one mapping (PyYAML would keep the last; the error
names the key and both lines), an empty file, and a file whose top level is not a mapping.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_text

MERGE_TAG = "tag:yaml.org,2002:merge"  # ``<<: *anchor``: its keys may be overridden, they are not repeats


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that gives one key twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first_line.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                break
            if seen is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice, on lines {seen} and {key_node.start_mark.line + 1} "
                    "(YAML keeps only the last: delete or rename one)", key_node.start_mark)
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load_yaml(path: str | os.PathLike[str], what: str = "config") -> Any:
    """The YAML (or JSON) value in ``path``; a syntax error or a repeated key is an error naming the
    file, line and column."""
    text = read_text(path, what)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise FlipInputError(f"{where}: not valid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise FlipInputError(f"{path}: not valid YAML: {err}") from None


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping in a YAML config file (:func:`load_yaml`); an empty file or another top level
    (a list, a bare value) is an error naming the file."""
    data = load_yaml(path)
    if data is None:
        raise FlipInputError(f"{path}: empty; a config is a mapping of keys (results:, corpora:, encoders:, ...)")
    if not isinstance(data, dict):
        raise FlipInputError(f"{path}:1:1: a config is a mapping of keys (results:, corpora:, encoders:, ...), "
                             f"not a {type(data).__name__}")
    return data


def merged_config_files(paths: Sequence[str | os.PathLike[str]]) -> dict[str, Any]:
    """The config files read (:func:`read_config_file`) and merged in order, as Snakemake merges
    ``--configfile`` files: a mapping of a later file updates the same mapping of an earlier one
    key by key, any other value replaces it."""
    merged: dict[str, Any] = {}
    for path in paths:
        _update(merged, read_config_file(Path(path)))
    return merged


def _update(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _update(base[key], value)
        else:
            base[key] = value
