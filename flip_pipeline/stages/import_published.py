"""The import_published stage: the published FLiP embeddings and scores in the pipeline's formats.

For encoders of family ``published`` these stand in for ``embed`` and ``pair``
(:mod:`flip_pipeline.corpora.flip_data` reads the published files):

* :func:`import_flip_view_stage` (``flip import-flip-view``): one view of one split, for the
  rows of a corpus table written by the corpus stage, as embedding shards
  ``embeddings/{encoder}/{corpus}/{split}/{view}/`` (the shard contract of
  :mod:`flip_pipeline.formats.shards`; nothing re-embedded);
* :func:`import_flip_scores_stage` (``flip import-flip-scores``): one split's published
  text–speech scores as ``sim_text_{lang}__speech_{lang}.parquet`` (the pair format);
* :func:`import_flip_data_stage` (``flip import-flip-data``, outside Snakemake): the corpus
  tables plus every shard and score in one call.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from flip_pipeline.atomic import write_json
from flip_pipeline.corpora.flip_data import (
    DEFAULT_ENCODER,
    DEFAULT_ENCODER_SPEC,
    SPLITS,
    embedding_array,
    published_root,
    read_flip_split,
    score_array,
    split_files,
    split_table,
    view_kind,
)
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_parquet
from flip_pipeline.formats import paths
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.formats.pair_scores import write_pair_scores
from flip_pipeline.formats.shards import (
    close_view,
    encoder_fingerprint,
    open_view,
    shard_metadata,
    shard_name,
    shard_plan,
    write_shard,
)
from flip_pipeline.settings import SHARD_ROWS

log = logging.getLogger(__name__)


def published_source(corpus_spec: dict[str, Any], base: str | Path) -> tuple[Path, str]:
    """Root folder and language of the flip_data corpus entry ``corpus_spec`` (relative roots
    resolved against ``base``)."""
    return published_root(corpus_spec, Path(base).resolve()), corpus_spec.get("language", "en")


def _write_view_shards(
    out_dir: Path, ids: list[str], array: np.ndarray, rows: np.ndarray, view: str, encoder: str,
    encoder_spec: dict[str, Any], source_file: Path, shard_rows: int, corpus_table: Path,
) -> None:
    """Write ``array[rows]`` as the shards + manifest of one view (``rows[i]`` belongs to ``ids[i]``).

    Every shard is rewritten (a copy, no compute), so a changed source file never leaves
    stale shards behind; each shard is written atomically and the manifest last.
    """
    out_dir = open_view(out_dir)
    fingerprint = encoder_fingerprint(encoder, encoder_spec)
    dim = int(array.shape[1])
    metadata = shard_metadata(encoder, view, dim, fingerprint, {
        "model_id": encoder_spec.get("model", "published"), "revision": "published",
        "normalisation": "as published", "source_data": encoder_spec.get("data", "published"),
        "source_file": str(source_file), "source_dtype": str(array.dtype),
    }, corpus_table)
    plan = shard_plan(len(ids), shard_rows)
    for index, lo, hi in plan:
        block = np.asarray(array[rows[lo:hi]], dtype=np.float32)
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            raise FlipInputError(f"{source_file}: row {int(rows[lo + int(np.argmax(bad))])} is not finite; "
                                 "the corpus table is older than the file: rebuild the corpus")
        write_shard(out_dir / shard_name(index), ids[lo:hi], block, metadata)
    close_view(out_dir, plan, {i: hi - lo for i, lo, hi in plan}, encoder, view, dim, fingerprint)


def _table_rows(corpus_table: Path) -> tuple[str, list[str], np.ndarray]:
    """``(split, ids, published array rows)`` of a corpus table written from the published data."""
    table = read_parquet(corpus_table, ["id", "flip_row", "split"], "corpus table of a flip_data corpus")
    splits = set(table.column("split").to_pylist())
    if len(splits) != 1 or not splits <= set(SPLITS):
        raise FlipInputError(f"{corpus_table}: column split holds {sorted(map(str, splits))}, expected one of {SPLITS}")
    return splits.pop(), table.column("id").to_pylist(), table.column("flip_row").to_numpy()


def _rows_within(rows: np.ndarray, n: int, path: Path, corpus_table: Path) -> None:
    if len(rows) and int(rows.max()) >= n:
        raise FlipInputError(f"{path} has {n} rows but {corpus_table} refers to row {int(rows.max())}; "
                             "the corpus table is older than the file: rebuild the corpus")


def import_flip_view_stage(
    root: Path, language: str, corpus_table: str | Path, view: str, out_dir: str | Path,
    encoder: str = DEFAULT_ENCODER, encoder_spec: dict[str, Any] | None = None, shard_rows: int = SHARD_ROWS,
) -> int:
    """Import one view of one split: the published rows of ``corpus_table`` as shards in ``out_dir``.

    Args:
        root: folder with the ``{split}_*`` files; the split is the corpus table's.
        language: language of the published data (views ``text_{language}``, ``speech_{language}``).
        corpus_table: ``corpora/{corpus}/{split}.parquet`` of the flip_data corpus (``id``, ``flip_row``).
        view: ``text_{language}`` or ``speech_{language}``.
        out_dir: ``embeddings/{encoder}/{corpus}/{split}/{view}``.
        encoder, encoder_spec: the name and entry fingerprinted into the shards.
        shard_rows: rows per shard.

    Returns:
        The number of rows imported.
    """
    corpus_table = Path(corpus_table)
    split, ids, rows = _table_rows(corpus_table)
    path = split_files(root, split)[view_kind(view, language)]
    array = embedding_array(path)
    _rows_within(rows, len(array), path, corpus_table)
    _write_view_shards(Path(out_dir), ids, array, rows, view, encoder, dict(encoder_spec or DEFAULT_ENCODER_SPEC),
                       path, shard_rows, corpus_table)
    log.info("%s/%s: %d rows imported from %s", split, view, len(ids), path)
    return len(ids)


def import_flip_scores_stage(
    root: Path, language: str, corpus_table: str | Path, out: str | Path, encoder: str = DEFAULT_ENCODER,
) -> int:
    """Write the published text–speech similarity of the rows of ``corpus_table`` to ``out``
    (``sim_text_{language}__speech_{language}.parquet``, the format of the pair stage).

    Returns:
        The number of rows written.
    """
    corpus_table = Path(corpus_table)
    split, ids, rows = _table_rows(corpus_table)
    path = split_files(root, split)["sim"]
    sim = score_array(path)
    _rows_within(rows, len(sim), path, corpus_table)
    write_pair_scores(out, ids, np.asarray(sim)[rows], {
        "view_a": f"text_{language}", "view_b": f"speech_{language}", "source": "published", "file": str(path),
        "encoder_a": encoder, "encoder_b": encoder,
    })
    log.info("%s: %d published scores written to %s", split, len(ids), out)
    return len(ids)


def import_flip_data_stage(
    root: str | Path,
    corpus: str,
    results: str | Path,
    language: str = "en",
    encoder: str = DEFAULT_ENCODER,
    encoder_spec: dict[str, Any] | None = None,
    shard_rows: int = SHARD_ROWS,
    drop_nonfinite: bool = True,
) -> dict[str, Any]:
    """Import the published data of one language into corpus tables, shards and scores.

    Args:
        root: folder with the ``{split}_*`` files (e.g. ``data/cv_15/en/sonar_embeddings``).
        corpus: corpus name (``corpora/{corpus}``, id prefix).
        results: the results folder (``results`` in config.yaml).
        language: language code of the views (``text_{language}``, ``speech_{language}``).
        encoder: name of the embedding folder (``embeddings/{encoder}/...``).
        encoder_spec: fingerprinted like an ``encoders.<name>`` entry; an embed run with
            the same name and entry keeps these shards instead of re-embedding.
        shard_rows: rows per shard.
        drop_nonfinite: drop rows with NaN/inf embeddings or score (else an error).

    Returns:
        The summary also written to ``corpora/{corpus}/info.json``.
    """
    root = published_root({"root": str(root)}, Path.cwd())
    encoder_spec = dict(encoder_spec or DEFAULT_ENCODER_SPEC)
    splits = {split: read_flip_split(root, split, drop_nonfinite) for split in SPLITS}
    for split, data in splits.items():
        if not len(data.rows):
            raise FlipInputError(f"{root}: split {split!r} has no usable rows")
    text, speech = f"text_{language}", f"speech_{language}"
    for split, data in splits.items():
        table = paths.corpus_table(results, corpus, split)
        write_corpus_table(split_table(corpus, split, language, data), table)
        for view in (text, speech):
            import_flip_view_stage(root, language, table, view, paths.embedding_dir(results, encoder, corpus, split, view),
                             encoder, encoder_spec, shard_rows)
        import_flip_scores_stage(root, language, table, paths.pair_scores(results, encoder, corpus, split, text, speech),
                           encoder)
    spec = {"source": "flip_data", "root": str(root), "language": language, "drop_nonfinite": drop_nonfinite}
    info = {
        "corpus": corpus, "source": spec, "rows": {s: len(d.rows) for s, d in splits.items()},
        "root": str(root), "splits": {s: d.counts for s, d in splits.items()},
        "encoder": encoder, "encoder_spec": encoder_spec, "dim": splits["train"].dim,
    }
    write_json(paths.corpus_info(results, corpus), info)
    log.info("rows imported per split: %s", info["rows"])
    return info
