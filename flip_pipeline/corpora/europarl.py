"""Europarl (Koehn 2005) English–German / English–French bitexts.

Two ways in, chosen by the config entry:

* ``root`` or ``files``: the Moses plain-text release, one sentence per line in each
  language (``europarl-v7.de-en.de`` / ``europarl-v7.de-en.en``). The files are read by
  the ``text_files`` reader (same UTF-8 and alignment checks). ``root`` derives the
  release names ``{root}/{prefix}.{pair}.{lang}`` (prefix ``europarl-v7``, pair =
  the non-English code + ``-en``); ``files`` names each view's file or glob explicitly.
* ``hub``: a ``datasets`` dataset, by default ``Helsinki-NLP/europarl`` with config
  ``de-en`` and split ``train``, whose ``translation`` column is a ``{lang: text}``
  dict. ``hub.columns`` maps views to other columns.

Europarl has no official dev/test split: rows are cleaned, deduplicated and split by
:mod:`flip_pipeline.corpora.bitext` (default ``split_sizes: {dev: 10000, test: 10000}``,
train = the rest, about 1.8M pairs as in the paper).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from flip_pipeline.corpora.bitext import build_parallel_splits
from flip_pipeline.corpora.hub import load_hub_split, read_text_columns
from flip_pipeline.corpora.text_files import read_aligned_columns

DEFAULT_HUB = {"id": "Helsinki-NLP/europarl", "split": "train"}


def language_pair(languages: list[str]) -> str:
    """``["en", "de"]`` → ``"de-en"`` (the Moses release and hub config name)."""
    return "-".join(sorted(languages))


def read_parallel(
    name: str,
    spec: dict[str, Any],
    base: Path,
    moses_files: dict[str, str] | None,
    default_hub: dict[str, Any],
    default_columns: dict[str, str],
) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Shared by Europarl and Samanantar: read aligned text from files or a hub dataset
    and split it. ``moses_files`` are the release file names derived from ``root``."""
    key = f"corpora.{name}"
    if "files" in spec or "root" in spec:
        files = dict(spec.get("files") or moses_files or {})
        columns = read_aligned_columns(files, base)
        info: dict[str, Any] = {"files": files}
    else:
        hub = {**default_hub, **spec["hub"]}
        dataset = load_hub_split(hub, hub.get("split", "train"), base, key)
        mapping = hub.get("columns") or default_columns
        columns = read_text_columns(dataset, mapping, f"{key}.hub.columns")
        info = {"hub": {k: v for k, v in hub.items() if k != "cache_dir"}}
    tables, counts = build_parallel_splits(columns, name, spec, key)
    return tables, {**info, **counts}


def read_europarl(name: str, spec: dict[str, Any], base: Path) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Build the split tables of a Europarl corpus entry (views ``text_{lang}``)."""
    languages = spec["languages"]
    pair = language_pair(languages)
    moses = None
    if "root" in spec:
        prefix = spec.get("prefix", "europarl-v7")
        moses = {f"text_{lang}": str(Path(spec["root"]) / f"{prefix}.{pair}.{lang}") for lang in languages}
    default_hub = {**DEFAULT_HUB, "config": pair}
    columns = {f"text_{lang}": f"translation.{lang}" for lang in languages}
    return read_parallel(name, spec, base, moses, default_hub, columns)
