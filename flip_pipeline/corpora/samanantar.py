"""Samanantar (Ramesh et al. 2022) English–{Bengali, Hindi, Tamil, Telugu} bitexts.

Two ways in, chosen by the config entry:

* ``root`` or ``files``: the released text files, one folder per pair holding
  line-aligned ``train.en`` and ``train.{lang}`` (``{root}/en-hi/train.en``). They are
  read by the ``text_files`` reader. ``files`` names each view's file or glob explicitly.
* ``hub``: a ``datasets`` dataset, by default ``ai4bharat/samanantar`` with config = the
  language code (``hi``) and split ``train``, columns ``src`` (English) and ``tgt``.
  ``hub.columns`` maps views to other columns.

The release has one training set per pair (no dev/test): rows are cleaned,
deduplicated and split by :mod:`flip_pipeline.corpora.bitext` (default
``split_sizes: {dev: 10000, test: 10000}``; add ``train: 1800000`` for the paper's size).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from flip_pipeline.corpora.europarl import read_parallel
from flip_pipeline.errors import FlipInputError

DEFAULT_HUB = {"id": "ai4bharat/samanantar", "split": "train"}


def read_samanantar(name: str, spec: dict[str, Any], base: Path) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Build the split tables of a Samanantar corpus entry (views ``text_en``, ``text_{lang}``)."""
    languages = spec["languages"]
    if len(languages) != 2 or "en" not in languages:
        raise FlipInputError(f"corpora.{name}.languages: Samanantar pairs English with one language, got {languages}")
    other = next(lang for lang in languages if lang != "en")
    moses = None
    if "root" in spec:
        folder = Path(spec["root"]) / f"en-{other}"
        moses = {f"text_{lang}": str(folder / f"train.{lang}") for lang in languages}
    default_hub = {**DEFAULT_HUB, "config": other}
    columns = {"text_en": "src", f"text_{other}": "tgt"}
    return read_parallel(name, spec, base, moses, default_hub, columns)
