"""The published FLiP data (BUT-FIT/FLiP-data): SONAR embeddings of Common Voice v15.

Layout of one language folder (``data/cv_15/en/sonar_embeddings`` in the published
``configs/datasets.yaml``), per split ``train``, ``dev``, ``test``::

    {split}_text_embs.npy     (n, d) text embeddings, row i = sentence i
    {split}_speech_embs.npy   (n, d) speech embeddings of the same utterances
    {split}_transcript.txt    one sentence per line; empty lines are not rows
    {split}_sim_scores.npy    (n,) similarity of the text and speech embedding of each row

Alignment follows the published loader: the i-th *non-empty* transcript line belongs
to embedding row i (empty lines are skipped and counted). Rows whose embeddings or
score are not finite are dropped and counted (the published loader drops NaN rows
too); ``drop_nonfinite: false`` makes them an error instead. Arrays are opened
memory-mapped with ``allow_pickle=False``.

Entry points:

* :func:`read_flip_data` (source ``flip_data`` of the corpus stage): the corpus table
  only, ``id`` (``{corpus}-{split}-{row:07d}``, ``row`` = the array row),
  ``text_{lang}`` from the transcript, ``flip_row`` and ``split``.
* :func:`import_flip_view` / :func:`import_flip_scores` (``flip import-flip-view`` /
  ``flip import-flip-scores``, the Snakemake rules of encoders of family ``published``):
  one view's embedding shards, or one split's scores, for the rows of a corpus table
  written by the corpus stage: the rules stand in for ``embed`` and ``pair``.
* :func:`import_flip_data` (``flip import-flip-data``, outside Snakemake): the corpus
  tables plus every shard and score in one call.

Shards go to ``embeddings/{encoder}/{corpus}/{split}/{view}/`` (same shard format and
metadata keys as the embed stage, nothing re-embedded), the scores to
``embeddings/{encoder}/{corpus}/{split}/sim_text_{lang}__speech_{lang}.parquet``.
The corpus has no audio, so ``speech_{lang}`` exists only as imported embeddings.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.atomic import write_json
from flip_pipeline.corpora.table import write_corpus_table
from flip_pipeline.corpora.text_files import _read_lines
from flip_pipeline.errors import FlipInputError

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
CHUNK_ROWS = 65_536
DEFAULT_ENCODER = "sonar_published"
DEFAULT_ENCODER_SPEC = {
    "family": "published",
    "data": "BUT-FIT/FLiP-data",
    "model": "SONAR (text_sonar_basic_encoder, speech encoder of the language)",
}


def _load_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FlipInputError(f"{path}: file not found")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as err:
        raise FlipInputError(f"{path}: not a readable numeric .npy array: {err}") from None


def _finite_rows(array: np.ndarray) -> np.ndarray:
    out = np.empty(len(array), dtype=bool)
    for lo in range(0, len(array), CHUNK_ROWS):
        block = np.asarray(array[lo : lo + CHUNK_ROWS])
        out[lo : lo + len(block)] = np.isfinite(block).reshape(len(block), -1).all(axis=1)
    return out


@dataclass
class FlipSplit:
    """One split of the published data, checked and aligned.

    Attributes:
        rows: int64 array rows kept (finite embeddings and score), in order.
        texts: transcript sentence of every array row (``len == n``).
        dim: embedding dimension ``d`` (text and speech alike).
        counts: ``empty_lines_skipped``, ``nonfinite_dropped``, ``rows``.
    """

    rows: np.ndarray
    texts: list[str]
    dim: int
    counts: dict[str, int]


def split_files(root: Path, split: str) -> dict[str, Path]:
    """The four published files of ``split``: keys ``text``, ``speech``, ``transcript``, ``sim``."""
    return {
        "text": root / f"{split}_text_embs.npy",
        "speech": root / f"{split}_speech_embs.npy",
        "transcript": root / f"{split}_transcript.txt",
        "sim": root / f"{split}_sim_scores.npy",
    }


def _embedding_array(path: Path) -> np.ndarray:
    """A memory-mapped ``(n, d)`` float array, or an error naming ``path``."""
    array = _load_npy(path)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise FlipInputError(f"{path}: expected a 2-D float array, found shape {array.shape} dtype {array.dtype}")
    return array


def _score_array(path: Path) -> np.ndarray:
    """The ``(n,)`` float scores (an ``(n, 1)`` file is flattened), or an error naming ``path``."""
    sim = _load_npy(path)
    if sim.ndim == 2 and sim.shape[1] == 1:
        sim = sim[:, 0]
    if sim.ndim != 1 or not np.issubdtype(sim.dtype, np.floating):
        raise FlipInputError(f"{path}: expected a 1-D float array, found shape {sim.shape} dtype {sim.dtype}")
    return sim


def read_flip_split(root: Path, split: str, drop_nonfinite: bool = True) -> FlipSplit:
    """Open and check the four files of ``split`` under ``root`` (see the module docstring)."""
    files = split_files(root, split)
    lines = [line.strip() for line in _read_lines(files["transcript"])] if files["transcript"].is_file() else None
    if lines is None:
        raise FlipInputError(f"{files['transcript']}: file not found")
    texts = [line for line in lines if line]
    text_embs, speech_embs = _embedding_array(files["text"]), _embedding_array(files["speech"])
    sim = _score_array(files["sim"])
    n = text_embs.shape[0]
    sizes = {str(files["text"]): n, str(files["speech"]): speech_embs.shape[0], str(files["sim"]): sim.shape[0],
             f"{files['transcript']} (non-empty lines)": len(texts)}
    if len(set(sizes.values())) != 1:
        raise FlipInputError(f"published FLiP data split {split!r}: row counts differ: {sizes}")
    if text_embs.shape[1] != speech_embs.shape[1]:
        raise FlipInputError(
            f"{files['text']} has dimension {text_embs.shape[1]} but {files['speech']} has {speech_embs.shape[1]}"
        )
    finite = _finite_rows(text_embs) & _finite_rows(speech_embs) & np.isfinite(np.asarray(sim))
    if not finite.all() and not drop_nonfinite:
        row = int(np.argmax(~finite))
        raise FlipInputError(
            f"published FLiP data split {split!r}: row {row} has a NaN or infinite embedding or score "
            f"({files['text'].name}, {files['speech'].name}, {files['sim'].name}); "
            "set drop_nonfinite: true to drop such rows"
        )
    rows = np.flatnonzero(finite)
    counts = {"rows": len(rows), "empty_lines_skipped": len(lines) - len(texts), "nonfinite_dropped": n - len(rows)}
    return FlipSplit(rows, texts, int(text_embs.shape[1]), counts)


def row_ids(corpus: str, split: str, rows: np.ndarray) -> list[str]:
    return [f"{corpus}-{split}-{r:07d}" for r in rows.tolist()]


def _corpus_table(corpus: str, split: str, lang: str, data: FlipSplit) -> pa.Table:
    return pa.table({
        "id": pa.array(row_ids(corpus, split, data.rows), pa.string()),
        f"text_{lang}": pa.array([data.texts[r] for r in data.rows.tolist()], pa.string()),
        "flip_row": pa.array(data.rows, pa.int64()),
        "split": pa.array([split] * len(data.rows), pa.string()),
    })


def published_root(spec: dict[str, Any], base: Path) -> Path:
    """The `root` folder of a flip_data corpus entry, resolved against `base`; it must exist."""
    root = Path(spec["root"]).expanduser()
    root = (root if root.is_absolute() else base / root).resolve()
    if not root.is_dir():
        raise FlipInputError(f"published FLiP data folder {root} does not exist")
    return root


def read_flip_data(name: str, spec: dict[str, Any], base: Path) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Corpus tables of the published data (text view only; see the module docstring)."""
    root = published_root(spec, base)
    lang = spec.get("language", "en")
    tables, info = {}, {"root": str(root), "splits": {}}
    for split in SPLITS:
        data = read_flip_split(root, split, spec.get("drop_nonfinite", True))
        tables[split] = _corpus_table(name, split, lang, data)
        info["splits"][split] = data.counts
    return tables, info


def _write_view_shards(
    out_dir: Path, ids: list[str], array: np.ndarray, rows: np.ndarray, view: str, encoder: str,
    encoder_spec: dict[str, Any], source_file: Path, shard_rows: int,
) -> None:
    """Write ``array[rows]`` as the shards + manifest of one view (``rows[i]`` belongs to ``ids[i]``).

    Every shard is rewritten (a copy, no compute), so a changed source file never leaves
    stale shards behind; each shard is written atomically and the manifest last.
    """
    from flip_pipeline.embed import _library_versions, encoder_fingerprint
    from flip_pipeline.shards import (
        MANIFEST,
        remove_unplanned_shards,
        shard_name,
        shard_plan,
        write_manifest,
        write_shard,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    fingerprint = encoder_fingerprint(encoder, encoder_spec)
    dim = int(array.shape[1])
    metadata = {
        "encoder": encoder, "model_id": encoder_spec.get("model", "published"), "revision": "published",
        "normalisation": "as published", "source_data": encoder_spec.get("data", "published"),
        "source_file": str(source_file), "source_dtype": str(array.dtype), "dim": dim, "dtype": "float32",
        "view": view, "fingerprint": fingerprint, "versions": _library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    plan = shard_plan(len(ids), shard_rows)
    for index, lo, hi in plan:
        block = np.asarray(array[rows[lo:hi]], dtype=np.float32)
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            raise FlipInputError(f"{source_file}: row {int(rows[lo + int(np.argmax(bad))])} is not finite; "
                                 "the corpus table is older than the file: rebuild the corpus")
        write_shard(out_dir / shard_name(index), ids[lo:hi], block, metadata)
    remove_unplanned_shards(out_dir, plan)
    info = {"encoder": encoder, "view": view, "dim": dim, "dtype": "float32", "fingerprint": fingerprint}
    write_manifest(out_dir, [(shard_name(i), hi - lo) for i, lo, hi in plan], info)


def _table_rows(corpus_table: Path) -> tuple[str, list[str], np.ndarray]:
    """``(split, ids, published array rows)`` of a corpus table written from the published data."""
    try:
        table = pq.read_table(corpus_table, columns=["id", "flip_row", "split"])
    except (OSError, KeyError, pa.ArrowException) as err:
        raise FlipInputError(f"{corpus_table}: not a corpus table of a flip_data corpus "
                             f"(needs columns id, flip_row, split): {err}") from None
    splits = set(table.column("split").to_pylist())
    if len(splits) != 1 or not splits <= set(SPLITS):
        raise FlipInputError(f"{corpus_table}: column split holds {sorted(map(str, splits))}, expected one of {SPLITS}")
    return splits.pop(), table.column("id").to_pylist(), table.column("flip_row").to_numpy()


def _rows_within(rows: np.ndarray, n: int, path: Path, corpus_table: Path) -> None:
    if len(rows) and int(rows.max()) >= n:
        raise FlipInputError(f"{path} has {n} rows but {corpus_table} refers to row {int(rows.max())}; "
                             "the corpus table is older than the file: rebuild the corpus")


def view_kind(view: str, language: str) -> str:
    """``"text"`` or ``"speech"``: the published array of ``view``; an error for any other view."""
    for kind in ("text", "speech"):
        if view == f"{kind}_{language}":
            return kind
    raise FlipInputError(f"view {view!r}: the published FLiP data of language {language!r} has only "
                         f"text_{language} and speech_{language}")


def import_flip_view(
    root: Path, language: str, corpus_table: str | Path, view: str, out_dir: str | Path,
    encoder: str = DEFAULT_ENCODER, encoder_spec: dict[str, Any] | None = None, shard_rows: int = 50_000,
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
    array = _embedding_array(path)
    _rows_within(rows, len(array), path, corpus_table)
    _write_view_shards(Path(out_dir), ids, array, rows, view, encoder, dict(encoder_spec or DEFAULT_ENCODER_SPEC),
                       path, shard_rows)
    log.info("%s/%s: %d rows imported from %s", split, view, len(ids), path)
    return len(ids)


def import_flip_scores(
    root: Path, language: str, corpus_table: str | Path, out: str | Path, encoder: str = DEFAULT_ENCODER,
) -> int:
    """Write the published text–speech similarity of the rows of ``corpus_table`` to ``out``
    (``sim_text_{language}__speech_{language}.parquet``, the format of the pair stage).

    Returns:
        The number of rows written.
    """
    from flip_pipeline.pair import write_similarity

    corpus_table = Path(corpus_table)
    split, ids, rows = _table_rows(corpus_table)
    path = split_files(root, split)["sim"]
    sim = _score_array(path)
    _rows_within(rows, len(sim), path, corpus_table)
    write_similarity(out, ids, np.asarray(sim)[rows], {
        "view_a": f"text_{language}", "view_b": f"speech_{language}", "source": "published", "file": str(path),
        "encoder_a": encoder, "encoder_b": encoder,
    })
    return len(ids)


def import_flip_data(
    root: str | Path,
    corpus: str,
    results: str | Path,
    language: str = "en",
    encoder: str = DEFAULT_ENCODER,
    encoder_spec: dict[str, Any] | None = None,
    shard_rows: int = 50_000,
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
    from flip_pipeline.pair import sim_name

    root = published_root({"root": str(root)}, Path.cwd())
    results = Path(results)
    encoder_spec = dict(encoder_spec or DEFAULT_ENCODER_SPEC)
    splits = {split: read_flip_split(root, split, drop_nonfinite) for split in SPLITS}
    for split, data in splits.items():
        if not len(data.rows):
            raise FlipInputError(f"{root}: split {split!r} has no usable rows")
    corpus_dir = results / "corpora" / corpus
    for split, data in splits.items():
        table = corpus_dir / f"{split}.parquet"
        write_corpus_table(_corpus_table(corpus, split, language, data), table)
        emb_dir = results / "embeddings" / encoder / corpus / split
        for view in (f"text_{language}", f"speech_{language}"):
            import_flip_view(root, language, table, view, emb_dir / view, encoder, encoder_spec, shard_rows)
        import_flip_scores(root, language, table, emb_dir / sim_name(f"text_{language}", f"speech_{language}"), encoder)
    spec = {"source": "flip_data", "root": str(root), "language": language, "drop_nonfinite": drop_nonfinite}
    info = {
        "corpus": corpus, "source": spec, "rows": {s: len(d.rows) for s, d in splits.items()},
        "root": str(root), "splits": {s: d.counts for s, d in splits.items()},
        "encoder": encoder, "encoder_spec": encoder_spec, "dim": splits["train"].dim,
    }
    write_json(corpus_dir / "info.json", info)
    return info
