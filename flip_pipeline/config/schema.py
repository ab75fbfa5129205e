"""The config's JSON Schema (``flip_pipeline/schemas/config.schema.yaml``, package data, so an
installed package validates configs) and the check of one entry against it."""

from __future__ import annotations

from importlib import resources
from typing import Any

import jsonschema
import yaml

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import VIEW_PATTERN

SCHEMA = "schemas/config.schema.yaml"


def load_schema() -> dict[str, Any]:
    """The config's JSON Schema, with the one view pattern of the corpus-table contract and
    an experiment's ``sweep`` keys: one non-empty list per ``training`` setting, each value
    validated as that setting."""
    schema = yaml.safe_load(resources.files("flip_pipeline").joinpath(SCHEMA).read_text(encoding="utf-8"))
    schema["$defs"]["view"]["pattern"] = VIEW_PATTERN.pattern
    sweep = schema["properties"]["experiments"]["additionalProperties"]["properties"]["sweep"]
    for key, setting in schema["$defs"]["training"]["properties"].items():
        sweep["properties"][key] = {"type": "array", "minItems": 1, "uniqueItems": True, "items": setting}
    return schema


def key_path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def validate_entry(section: str, name: str, spec: Any, source: str = "--spec") -> None:
    """Check one entry of a config section (``corpora``, ``encoders``, ``vocabularies``) against
    the schema, as ``flip`` stages given a hand-written ``--spec`` do: an error naming
    ``{source}``, the entry's key and what is wrong."""
    schema = load_schema()
    single = {**schema, "required": [], "properties": {section: schema["properties"][section]}}
    errors = list(jsonschema.Draft202012Validator(single).iter_errors({section: {name: spec}}))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        raise FlipInputError(f"{source}: {key_path(err.absolute_path)}: {err.message}")
