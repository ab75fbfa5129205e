"""Settings dataclasses from config entries, and the defaults the rules and the CLI share.

No YAML and no JSON Schema here (that is :mod:`flip_pipeline.config.validation`): stages build their
settings (``TrainSettings``, ``SpliceSettings``, ``ConceptSettings``) from a plain dict
with :func:`settings_from_dict`, so they run without the config loader.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

from flip_pipeline.errors import FlipInputError

T = TypeVar("T")

#: Rows per embedding shard (the unit of work a crash can lose); config key ``shard_rows``.
SHARD_ROWS = 50_000
#: The ``N`` of precision/recall/F1 at top-``N``; config key ``evaluation.top_n``.
TOP_N = (1, 5, 10, 20)
#: The top-``k`` depths of entity recall; config key ``entities.<name>.ks``.
ENTITY_KS = (1, 2, 3, 5, 10, 20, 50)
#: How entity recall is averaged: ``sentence`` (the published evaluation) or ``entity``;
#: config key ``entities.<name>.average``.
ENTITY_AVERAGE = "sentence"
#: Sentences per spaCy batch when tagging entities; config key ``entities.<name>.batch_size``.
ENTITY_BATCH_SIZE = 256
#: How a probe's bias starts; config key ``training.bias_init``: ``log_unigram`` (the formula the
#: published code documents but never applies) or ``xavier`` (Xavier-normal: what the published
#: training code runs, so what produced the paper's numbers). docs/training.md "Bias initialisation".
BIAS_INITS = ("log_unigram", "xavier")
#: The default of ``training.bias_init``. It was ``log_unigram`` before; :func:`flip_pipeline.config.runs.expand_runs`
#: writes it into every run's settings, so a model trained under the old default is not reused.
BIAS_INIT = "xavier"


#: Keys of an ``encoders.<name>`` entry that only name the encoder (figures): left out of every
#: fingerprint and of what the rules pass to a job, so changing them re-embeds and retrains nothing.
PRESENTATION_KEYS = ("label",)


def computing_entry(spec: dict[str, Any]) -> dict[str, Any]:
    """An encoder's config entry without :data:`PRESENTATION_KEYS`: what its embeddings depend on."""
    return {key: value for key, value in spec.items() if key not in PRESENTATION_KEYS}


def fingerprint_of(obj: Any) -> str:
    """16 hex digits of the SHA-256 of ``obj`` as canonical JSON (sorted keys): equal for equal
    configurations, different for any change of a value."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def rank_of(rank: int | str | None) -> int | None:
    """A FLiP rank as configured (an int, ``"full"``) → the rank, or ``None`` for full rank
    (``r = d``) and for probes without a rank (LiP, SpLiCE)."""
    return None if rank in (None, "full") else int(rank)


def require_keys(spec: Any, keys: tuple[str, ...], what: str) -> None:
    """Raise :class:`FlipInputError` naming ``what`` and the first of ``keys`` that the mapping
    ``spec`` lacks (a ``--spec`` written by hand, cut short); a ``spec`` that is no mapping too."""
    if not isinstance(spec, Mapping):
        raise FlipInputError(f"{what}: must be a JSON object, not {type(spec).__name__}")
    missing = [key for key in keys if key not in spec]
    if missing:
        raise FlipInputError(f"{what}: lacks {missing[0]!r} (needs {', '.join(keys)})")


def settings_from_dict(cls: type[T], spec: Mapping[str, Any], key: str) -> T:
    """Build the settings dataclass ``cls`` from a config entry; an unknown field is an
    error naming ``{key}.{field}``, a missing one takes the dataclass default."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise FlipInputError(f"{key}.{unknown[0]}: unknown setting; known: {', '.join(sorted(known))}")
    return cls(**spec)
