"""The corpus stage: a corpus's config entry → its split tables and ``info.json``."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from flip_pipeline.atomic import write_json
from flip_pipeline.corpora import load_corpus_splits
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import SPLITS, write_corpus_table
from flip_pipeline.progress import count, stage_done

log = logging.getLogger(__name__)


def _split_key(name: str, spec: dict[str, Any]) -> str:
    """The config key that decides a corpus's split sizes: ``splits`` (shares), ``split_sizes``
    (counts), or for sources split on disk (local, mcv, flip_data, fleurs) where the files are."""
    key = f"corpora.{name}"
    if "split_sizes" in spec:
        return f"{key}.split_sizes"
    if "splits" in spec or spec.get("source") in ("sample", "text_files", "europarl", "samanantar"):
        return f"{key}.splits"
    if spec.get("release"):  # fleurs
        return f"{key}.release ({spec['release']}: the source's own split files)"
    where = spec.get("root") or (spec.get("hub") or {}).get("id", "its source")
    return f"{key}.root ({where}: the source's own split files)"


def corpus_stage(name: str, spec: dict[str, Any], out_dir: str | os.PathLike[str], base: str | os.PathLike[str]) -> None:
    """Write ``{out_dir}/{split}.parquet`` for every split and ``{out_dir}/info.json``.

    Args:
        name: ``corpora.<name>``; ``spec`` its config entry.
        out_dir: ``corpora/{corpus}``.
        base: folder that relative paths in ``spec`` are resolved against.
    """
    started = time.perf_counter()
    tables, info = load_corpus_splits(name, spec, Path(base).resolve())
    out_dir = Path(out_dir)
    for split in SPLITS:
        if tables[split].num_rows == 0:
            raise FlipInputError(f"{_split_key(name, spec)}: split {split!r} would be empty")
    for split in SPLITS:
        write_corpus_table(tables[split], out_dir / f"{split}.parquet")
    info = {"corpus": name, "source": spec, "rows": {s: tables[s].num_rows for s in SPLITS}, **info}
    write_json(out_dir / "info.json", info)
    views = [c for c in tables["train"].column_names if c.startswith(("text_", "speech_"))]
    stage_done(log, f"corpus {name}", started, read=f"source {spec.get('source')!r}",
               wrote=f"{out_dir} ({', '.join(f'{s} {count(tables[s].num_rows)}' for s in SPLITS)} rows; "
                     f"views {', '.join(views)})")
