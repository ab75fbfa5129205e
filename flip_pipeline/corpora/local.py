"""A user's own corpus from a local folder, already split into train, dev and test.

Two layouts (``format``; by default ``tsv`` if ``{root}/train.tsv`` exists, else ``txt``):

* ``tsv``: ``{root}/{split}.tsv``, tab-separated with a header, quoting off. One column
  per view named in ``views`` (``text_en``, ``speech_en``, ...), an optional ``id``
  column (unique per split; without it ids are ``{corpus}-{split}-{line:07d}``) and any
  other columns, kept as string metadata. Speech values are audio paths relative to
  ``root`` (or absolute); the corpus root is ``root``.
* ``txt``: ``{root}/{split}.{lang}.txt``, one sentence per line, line-aligned across the
  languages of the text views (text views only). Ids are ``{corpus}-{split}-{line:07d}``
  with the 0-based line number.

A row with an empty value in any view is skipped and counted (``empty_skipped`` in
info.json). Missing audio files stop the stage unless ``missing_audio: skip``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from flip_pipeline.corpora.audio import MissingAudio
from flip_pipeline.corpora.text_files import read_aligned_columns
from flip_pipeline.corpora.tsv import read_tsv
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import SPLITS, view_language, view_modality, with_audio_root


def read_local(name: str, spec: dict[str, Any], base: Path) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Build the split tables of a local-folder corpus entry (see the module docstring)."""
    key = f"corpora.{name}"
    root = Path(os.path.expanduser(spec["root"]))
    root = (root if root.is_absolute() else base / root).resolve()
    if not root.is_dir():
        raise FlipInputError(f"{key}.root: folder {root} does not exist")
    fmt = spec.get("format") or ("tsv" if (root / "train.tsv").is_file() else "txt")
    views = list(spec["views"])
    if fmt == "txt":
        speech = [v for v in views if view_modality(v) == "speech"]
        if speech:
            raise FlipInputError(f"{key}.views: the txt layout holds text views only, not {speech}; use format: tsv")
        return _read_txt(name, root, views)
    return _read_tsv(name, root, views, MissingAudio(key, spec.get("missing_audio", "error")))


def _read_txt(name: str, root: Path, views: list[str]) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    tables, empty = {}, {}
    for split in SPLITS:
        files = {v: str(root / f"{split}.{view_language(v)}.txt") for v in views}
        columns = read_aligned_columns(files, root)
        n = len(columns[views[0]])
        keep = [i for i in range(n) if all(columns[v][i] for v in views)]
        empty[split] = n - len(keep)
        data = {"id": pa.array([f"{name}-{split}-{i:07d}" for i in keep], pa.string())}
        for v in views:
            data[v] = pa.array([columns[v][i] for i in keep], pa.string())
        data["split"] = pa.array([split] * len(keep), pa.string())
        tables[split] = pa.table(data)
    return tables, {"format": "txt", "root": str(root), "empty_skipped": empty}


def _read_tsv(
    name: str, root: Path, views: list[str], missing: MissingAudio
) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    tables, empty = {}, {}
    for split in SPLITS:
        path = root / f"{split}.tsv"
        header, rows = read_tsv(path, views)
        col = {c: i for i, c in enumerate(header)}
        meta_cols = [c for c in header if c not in views and c not in ("id", "split")]
        data: dict[str, list[str]] = {c: [] for c in ["id", *views, *meta_cols]}
        seen: dict[str, int] = {}
        empty[split] = 0
        for line, fields in rows:
            row_id = fields[col["id"]].strip() if "id" in col else f"{name}-{split}-{line - 2:07d}"
            if not row_id:
                raise FlipInputError(f"{path}: line {line}: empty id")
            if row_id in seen:
                raise FlipInputError(f"{path}: line {line}: id {row_id!r} already used on line {seen[row_id]}")
            seen[row_id] = line
            values = {v: fields[col[v]].strip() for v in views}
            if not all(values.values()):
                empty[split] += 1
                continue
            lost = [values[v] for v in views if view_modality(v) == "speech" and not (root / values[v]).is_file()]
            if lost:
                missing.add(split, row_id, str(root / lost[0]), f"{path} line {line}")
                continue
            data["id"].append(row_id)
            for v in views:
                data[v].append(values[v])
            for c in meta_cols:
                data[c].append(fields[col[c]])
        table = pa.table({**{c: pa.array(v, pa.string()) for c, v in data.items()},
                          "split": pa.array([split] * len(data["id"]), pa.string())})
        tables[split] = with_audio_root(table, root)
    return tables, {"format": "tsv", "root": str(root), "empty_skipped": empty, **missing.check()}
