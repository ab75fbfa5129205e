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

:func:`read_flip_data` is source ``flip_data`` of the corpus stage: the corpus table
only, ``id`` (``{corpus}-{split}-{row:07d}``, ``row`` = the array row), ``text_{lang}``
from the transcript, ``flip_row`` and ``split``. The corpus has no audio, so
``speech_{lang}`` exists only as embeddings imported by
:mod:`flip_pipeline.stages.import_published`, which reads the arrays through this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_lines
from flip_pipeline.formats.corpus_table import SPLITS

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


def embedding_array(path: Path) -> np.ndarray:
    """A memory-mapped ``(n, d)`` float array, or an error naming ``path``."""
    array = _load_npy(path)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise FlipInputError(f"{path}: expected a 2-D float array, found shape {array.shape} dtype {array.dtype}")
    return array


def score_array(path: Path) -> np.ndarray:
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
    lines = [line.strip() for line in read_lines(files["transcript"])] if files["transcript"].is_file() else None
    if lines is None:
        raise FlipInputError(f"{files['transcript']}: file not found")
    texts = [line for line in lines if line]
    text_embs, speech_embs = embedding_array(files["text"]), embedding_array(files["speech"])
    sim = score_array(files["sim"])
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


def split_table(corpus: str, split: str, lang: str, data: FlipSplit) -> pa.Table:
    """The corpus table of one split: ``id``, ``text_{lang}``, ``flip_row`` (the array row), ``split``."""
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
        tables[split] = split_table(name, split, lang, data)
        info["splits"][split] = data.counts
    return tables, info


def view_kind(view: str, language: str) -> str:
    """``"text"`` or ``"speech"``: the published array of ``view``; an error for any other view."""
    for kind in ("text", "speech"):
        if view == f"{kind}_{language}":
            return kind
    raise FlipInputError(f"view {view!r}: the published FLiP data of language {language!r} has only "
                         f"text_{language} and speech_{language}")
