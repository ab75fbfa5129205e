"""The corpus table: one Parquet file per split, one row per utterance.

Columns: ``id`` (string, unique), then one column per *view* (``text_{lang}`` holds raw
text, ``speech_{lang}`` an audio path relative to the corpus root), then optional
source metadata. Text is stored raw; normalisation happens at use (:mod:`flip_pipeline.text`).

The corpus root of the audio is stored as the absolute path in the Parquet schema
metadata key ``flip.audio_root``; :func:`read_view` returns speech paths resolved
against it, so later stages find the audio wherever the corpus table is read from.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flip_pipeline.atomic import atomic_path
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_parquet, read_parquet_schema

SPLITS = ("train", "dev", "test")  # every corpus has these three, each a table
MODALITIES = ("text", "speech")


def view_regex(modalities: tuple[str, ...] = MODALITIES) -> str:
    """The one pattern of a view name, ``{modality}_{language}`` (language: 2–3 lower-case
    letters), unanchored, for Snakemake wildcard constraints; ``("text",)`` → text views only."""
    return rf"(?:{'|'.join(modalities)})_[a-z]{{2,3}}"


#: Anchored view pattern: corpus columns, config keys (the schema's ``$defs.view``), wildcards.
VIEW_PATTERN = re.compile(rf"^{view_regex()}$")
AUDIO_ROOT_KEY = "flip.audio_root"
CORPUS_TABLE = "corpus table"  # what errors call the file


def with_audio_root(table: pa.Table, root: str | os.PathLike[str]) -> pa.Table:
    """Record the absolute corpus root of the audio in ``table``'s schema metadata."""
    metadata = dict(table.schema.metadata or {})
    metadata[AUDIO_ROOT_KEY.encode()] = str(Path(root).resolve()).encode()
    return table.replace_schema_metadata(metadata)


def audio_root(path: str | os.PathLike[str]) -> Path | None:
    """The ``flip.audio_root`` of a corpus table file, or ``None`` if it has none."""
    metadata = read_parquet_schema(path, CORPUS_TABLE).metadata or {}
    value = metadata.get(AUDIO_ROOT_KEY.encode())
    return Path(value.decode()) if value else None


def is_view(column: str) -> bool:
    """True for view columns such as ``text_en`` or ``speech_de``."""
    return bool(VIEW_PATTERN.match(column))


def view_language(view: str) -> str:
    """``"text_en"`` → ``"en"``."""
    return view.split("_", 1)[1]


def view_modality(view: str) -> str:
    """``"speech_de"`` → ``"speech"``."""
    return view.split("_", 1)[0]


def write_corpus_table(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Validate and write one split atomically (zstd-compressed Parquet)."""
    validate_corpus_table(table, path)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def validate_corpus_table(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Raise :class:`FlipInputError` naming ``path`` if the table breaks the contract."""
    if "id" not in table.column_names:
        raise FlipInputError(f"{path}: corpus table has no 'id' column")
    if table.num_rows == 0:
        raise FlipInputError(f"{path}: corpus table is empty")
    ids = table.column("id")
    if not pa.types.is_string(ids.type) and not pa.types.is_large_string(ids.type):
        raise FlipInputError(f"{path}: column 'id' must be string, found {ids.type}")
    if ids.null_count:
        raise FlipInputError(f"{path}: column 'id' has {ids.null_count} null values")
    unique = pc.count_distinct(ids).as_py()
    if unique != table.num_rows:
        raise FlipInputError(f"{path}: column 'id' has {table.num_rows - unique} duplicate values")
    if not any(is_view(c) for c in table.column_names):
        raise FlipInputError(f"{path}: corpus table has no view column (text_xx / speech_xx)")


def read_view(path: str | os.PathLike[str], view: str) -> tuple[list[str], list[str]]:
    """Return ``(ids, values)`` of one view column of a corpus split, in table order.

    For a speech view the values are absolute audio paths: relative paths are resolved
    against the table's ``flip.audio_root`` metadata, or, for a table without it,
    against the folder holding the table; absolute paths are returned unchanged.

    Raises :class:`FlipInputError` naming the file and view if the column is missing
    or has null values (the row id of the first null is given).
    """
    path = Path(path)
    schema = read_parquet_schema(path, CORPUS_TABLE)
    if view not in schema.names:
        views = [c for c in schema.names if is_view(c)]
        raise FlipInputError(f"{path}: no view {view!r}; the table has views {views}")
    table = read_parquet(path, ["id", view], CORPUS_TABLE)
    ids = table.column("id").to_pylist()
    values = table.column(view).to_pylist()
    for row, value in enumerate(values):
        if value is None:
            raise FlipInputError(f"{path}: view {view!r} is empty at row {row} (id {ids[row]!r})")
    if view_modality(view) == "speech":
        root = audio_root(path) or path.resolve().parent
        values = [v if os.path.isabs(v) else str(root / v) for v in values]
    return ids, values
