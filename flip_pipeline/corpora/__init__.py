"""Corpus sources. Each source turns a config entry into ``{split: corpus table}``.

Add a source: write ``corpora/<source>.py`` returning ``{split: pyarrow.Table}`` in the
layout of :mod:`flip_pipeline.formats.corpus_table`, add a branch to :func:`load_corpus_splits`,
and add its keys to ``flip_pipeline/schemas/config.schema.yaml``. The corpus stage
(:mod:`flip_pipeline.stages.corpus`) writes the tables.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pyarrow as pa

from flip_pipeline.corpora.sample import generate_sample_corpus
from flip_pipeline.corpora.splits import split_fractions
from flip_pipeline.corpora.text_files import read_text_files
from flip_pipeline.errors import FlipInputError

# Sources read by ``reader(name, spec, base) -> ({split: table}, info)``, imported on use
# so that building one corpus never imports the others' dependencies (``datasets``).
READERS = {
    "mcv": ("flip_pipeline.corpora.mcv", "read_mcv"),
    "europarl": ("flip_pipeline.corpora.europarl", "read_europarl"),
    "samanantar": ("flip_pipeline.corpora.samanantar", "read_samanantar"),
    "local": ("flip_pipeline.corpora.local", "read_local"),
    "flip_data": ("flip_pipeline.corpora.flip_data", "read_flip_data"),
    "fleurs": ("flip_pipeline.corpora.fleurs", "read_fleurs"),
}
SOURCES = ("sample", "text_files", *READERS)


def load_corpus_splits(name: str, spec: dict[str, Any], base: Path) -> tuple[dict[str, pa.Table], dict]:
    """Build the split tables of corpus ``name`` from its config entry ``spec``.

    Returns ``({split: table}, info)`` where ``info`` records counts and skips.
    """
    source = spec.get("source")
    fractions = split_fractions(spec, f"corpora.{name}.splits")
    seed = spec.get("seed", 0)
    if source == "sample":
        langs = tuple(spec.get("languages", ["en", "de", "fr"]))
        tables = generate_sample_corpus(spec["n_sentences"], fractions, langs, seed)
        return tables, {"synthetic": True}
    if source == "text_files":
        return read_text_files(spec["views"], fractions, seed, name, base, spec.get("deduplicate", True),
                               spec.get("exclude"), spec.get("test"))
    if source in READERS:
        module, function = READERS[source]
        return getattr(importlib.import_module(module), function)(name, spec, base)
    raise FlipInputError(f"corpora.{name}.source: unknown source {source!r}; known: {', '.join(SOURCES)}")
