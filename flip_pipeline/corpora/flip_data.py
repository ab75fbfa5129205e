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

Two entry points:

* :func:`read_flip_data` (source ``flip_data`` of the corpus stage): the corpus table
  only, ``id`` (``{corpus}-{split}-{row:07d}``, ``row`` = the array row),
  ``text_{lang}`` from the transcript, ``flip_row`` and ``split``.
* :func:`import_flip_data` (``flip import-flip-data``): the corpus tables plus embedding
  shards for ``text_{lang}`` and ``speech_{lang}`` under
  ``embeddings/{encoder}/{corpus}/{split}/{view}/`` (same shard format and metadata keys
  as the embed stage, nothing re-embedded) and the scores as
  ``embeddings/{encoder}/{corpus}/{split}/sim_text_{lang}__speech_{lang}.parquet``.
  The corpus has no audio, so ``speech_{lang}`` exists only as imported embeddings.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

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
        text_embs, speech_embs: memory-mapped ``(n, d)`` arrays.
        sim: ``(n,)`` similarity scores.
        counts: ``empty_lines_skipped``, ``nonfinite_dropped``, ``rows``.
    """

    rows: np.ndarray
    texts: list[str]
    text_embs: np.ndarray
    speech_embs: np.ndarray
    sim: np.ndarray
    files: dict[str, str]
    counts: dict[str, int]


def read_flip_split(root: Path, split: str, drop_nonfinite: bool = True) -> FlipSplit:
    """Open and check the four files of ``split`` under ``root`` (see the module docstring)."""
    files = {
        "text": root / f"{split}_text_embs.npy",
        "speech": root / f"{split}_speech_embs.npy",
        "transcript": root / f"{split}_transcript.txt",
        "sim": root / f"{split}_sim_scores.npy",
    }
    lines = [line.strip() for line in _read_lines(files["transcript"])] if files["transcript"].is_file() else None
    if lines is None:
        raise FlipInputError(f"{files['transcript']}: file not found")
    texts = [line for line in lines if line]
    text_embs, speech_embs = _load_npy(files["text"]), _load_npy(files["speech"])
    sim = _load_npy(files["sim"])
    for kind in ("text", "speech"):
        arr = text_embs if kind == "text" else speech_embs
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.floating):
            raise FlipInputError(
                f"{files[kind]}: expected a 2-D float array, found shape {arr.shape} dtype {arr.dtype}"
            )
    if sim.ndim == 2 and sim.shape[1] == 1:
        sim = sim[:, 0]
    if sim.ndim != 1 or not np.issubdtype(sim.dtype, np.floating):
        raise FlipInputError(f"{files['sim']}: expected a 1-D float array, found shape {sim.shape} dtype {sim.dtype}")
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
    return FlipSplit(rows, texts, text_embs, speech_embs, sim, {k: str(v) for k, v in files.items()}, counts)


def row_ids(corpus: str, split: str, rows: np.ndarray) -> list[str]:
    return [f"{corpus}-{split}-{r:07d}" for r in rows.tolist()]


def _corpus_table(corpus: str, split: str, lang: str, data: FlipSplit) -> pa.Table:
    return pa.table({
        "id": pa.array(row_ids(corpus, split, data.rows), pa.string()),
        f"text_{lang}": pa.array([data.texts[r] for r in data.rows.tolist()], pa.string()),
        "flip_row": pa.array(data.rows, pa.int64()),
        "split": pa.array([split] * len(data.rows), pa.string()),
    })


def _root(spec: dict[str, Any], base: Path) -> Path:
    root = Path(spec["root"]).expanduser()
    root = (root if root.is_absolute() else base / root).resolve()
    if not root.is_dir():
        raise FlipInputError(f"published FLiP data folder {root} does not exist")
    return root


def read_flip_data(name: str, spec: dict[str, Any], base: Path) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Corpus tables of the published data (text view only; see the module docstring)."""
    root = _root(spec, base)
    lang = spec.get("language", "en")
    tables, info = {}, {"root": str(root), "splits": {}}
    for split in SPLITS:
        data = read_flip_split(root, split, spec.get("drop_nonfinite", True))
        tables[split] = _corpus_table(name, split, lang, data)
        info["splits"][split] = data.counts
    return tables, info


def _write_view_shards(
    out_dir: Path, ids: list[str], array: np.ndarray, rows: np.ndarray, view: str, encoder: str,
    encoder_spec: dict[str, Any], source_file: str, shard_rows: int,
) -> None:
    from flip_pipeline.embed import _library_versions, encoder_fingerprint
    from flip_pipeline.shards import MANIFEST, complete_shard_dim, shard_name, write_manifest, write_shard

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    fingerprint = encoder_fingerprint(encoder, encoder_spec)
    dim = int(array.shape[1])
    metadata = {
        "encoder": encoder, "model_id": encoder_spec.get("model", "published"), "revision": "published",
        "normalisation": "as published", "source_data": encoder_spec.get("data", "published"),
        "source_file": source_file, "source_dtype": str(array.dtype), "dim": dim, "dtype": "float32",
        "view": view, "fingerprint": fingerprint, "versions": _library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    plan = [(i, i * shard_rows, min(len(ids), (i + 1) * shard_rows)) for i in range(math.ceil(len(ids) / shard_rows))]
    for index, lo, hi in plan:
        path = out_dir / shard_name(index)
        if complete_shard_dim(path, ids[lo:hi], fingerprint) == dim:
            continue
        write_shard(path, ids[lo:hi], np.asarray(array[rows[lo:hi]], dtype=np.float32), metadata)
    planned = {shard_name(i) for i, _, _ in plan}
    for stale in out_dir.glob("part-*.parquet"):
        if stale.name not in planned:
            stale.unlink()
    info = {"encoder": encoder, "view": view, "dim": dim, "dtype": "float32", "fingerprint": fingerprint}
    write_manifest(out_dir, [(shard_name(i), hi - lo) for i, lo, hi in plan], info)


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
    root = _root({"root": str(root)}, Path.cwd())
    results = Path(results)
    encoder_spec = dict(encoder_spec or DEFAULT_ENCODER_SPEC)
    from flip_pipeline.pair import sim_name, write_similarity

    text_view, speech_view = f"text_{language}", f"speech_{language}"
    splits = {split: read_flip_split(root, split, drop_nonfinite) for split in SPLITS}
    for split, data in splits.items():
        if not len(data.rows):
            raise FlipInputError(f"{root}: split {split!r} has no usable rows")
    corpus_dir = results / "corpora" / corpus
    for split, data in splits.items():
        write_corpus_table(_corpus_table(corpus, split, language, data), corpus_dir / f"{split}.parquet")
        ids = row_ids(corpus, split, data.rows)
        emb_dir = results / "embeddings" / encoder / corpus / split
        for view, array, kind in ((text_view, data.text_embs, "text"), (speech_view, data.speech_embs, "speech")):
            _write_view_shards(emb_dir / view, ids, array, data.rows, view, encoder, encoder_spec,
                               data.files[kind], shard_rows)
            log.info("%s/%s: %d rows imported", split, view, len(ids))
        write_similarity(emb_dir / sim_name(text_view, speech_view), ids, np.asarray(data.sim)[data.rows],
                         {"view_a": text_view, "view_b": speech_view, "source": "published", "file": data.files["sim"],
                          "encoder_a": encoder, "encoder_b": encoder})
    spec = {"source": "flip_data", "root": str(root), "language": language, "drop_nonfinite": drop_nonfinite}
    info = {
        "corpus": corpus, "source": spec, "rows": {s: len(d.rows) for s, d in splits.items()},
        "root": str(root), "splits": {s: d.counts for s, d in splits.items()},
        "encoder": encoder, "encoder_spec": encoder_spec, "dim": int(splits["train"].text_embs.shape[1]),
    }
    write_json(corpus_dir / "info.json", info)
    return info
