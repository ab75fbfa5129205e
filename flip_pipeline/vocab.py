"""Vocabularies and bag-of-words matrices.

A vocabulary is the paper's CountVectorizer: tokens from :class:`~flip_pipeline.text.Tokenizer`,
the ``max_words`` most frequent kept (ties broken alphabetically), indices assigned in
alphabetical order — the layout of the published ``vocab.json`` (word → index), so
published checkpoints load directly.

Files of ``vocab/{vocab}/``: ``vocab.json``, ``counts.parquet`` (word, index, count,
document frequency) and ``settings.json`` (pattern, language, source, sizes).
A bag of words is a CSR count matrix stored as ``.npz`` with the row ids beside it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from flip_pipeline.atomic import atomic_path, write_json
from flip_pipeline.errors import FlipInputError
from flip_pipeline.text import Tokenizer


@dataclass
class Vocabulary:
    """An ordered word list with the tokenizer that produced it.

    Attributes:
        words: ``words[i]`` is the word at index ``i`` (size ``W``).
        tokenizer: the analyser applied to any text before lookup.
    """

    words: list[str]
    tokenizer: Tokenizer
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str], pattern: str = "latin") -> Vocabulary:
        """Load a ``vocab.json`` (word → index, indices 0..W-1 each used once)."""
        path = Path(path)
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise FlipInputError(f"{path}: cannot read vocabulary: {err}") from None
        words = [""] * len(mapping)
        for word, idx in mapping.items():
            if not isinstance(idx, int) or not 0 <= idx < len(mapping) or words[idx]:
                raise FlipInputError(f"{path}: index {idx!r} of word {word!r} is out of range or repeated")
            words[idx] = word
        return cls(words, Tokenizer(pattern))

    @classmethod
    def load(cls, vocab_dir: str | os.PathLike[str]) -> Vocabulary:
        """Load ``vocab.json`` with the pattern recorded in ``settings.json`` beside it."""
        vocab_dir = Path(vocab_dir)
        settings = json.loads((vocab_dir / "settings.json").read_text(encoding="utf-8"))
        return cls.from_json(vocab_dir / "vocab.json", settings["pattern"])

    def bag_of_words(self, texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
        """Count in-vocabulary tokens.

        Returns:
            ``(counts, oov_types)``: CSR int32 ``(n, W)`` with sorted column indices, and
            int32 ``(n,)`` numbers of distinct out-of-vocabulary token types per row.
        """
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        indices: list[np.ndarray] = []
        data: list[np.ndarray] = []
        oov = np.zeros(len(texts), dtype=np.int32)
        for row, text in enumerate(texts):
            counts = Counter(self.tokenizer.tokens(text))
            cols = [self.index.get(tok, -1) for tok in counts]
            oov[row] = sum(c < 0 for c in cols)
            pairs = sorted((c, n) for c, n in zip(cols, counts.values()) if c >= 0)
            indices.append(np.fromiter((c for c, _ in pairs), dtype=np.int32, count=len(pairs)))
            data.append(np.fromiter((n for _, n in pairs), dtype=np.int32, count=len(pairs)))
            indptr[row + 1] = indptr[row] + len(pairs)
        matrix = sp.csr_matrix(
            (np.concatenate(data) if data else np.zeros(0, np.int32),
             np.concatenate(indices) if indices else np.zeros(0, np.int32), indptr),
            shape=(len(texts), len(self.words)),
        )
        return matrix, oov


def load_counting_vocabulary(vocab_dir: str | os.PathLike[str]):
    """What the bow stage counts with: :class:`Vocabulary` (words), or for ``"kind": "concepts"``
    in ``settings.json`` a :class:`~flip_pipeline.concepts.ConceptVocabulary` (greedy spans).
    Both have ``bag_of_words(texts) -> (counts, oov_types)``."""
    settings = json.loads((Path(vocab_dir) / "settings.json").read_text(encoding="utf-8"))
    if settings.get("kind") == "concepts":
        from flip_pipeline.concepts import ConceptVocabulary

        return ConceptVocabulary.load(vocab_dir)
    return Vocabulary.load(vocab_dir)


def build_vocabulary(texts: list[str], pattern: str, max_words: int, min_count: int = 1) -> tuple[Vocabulary, pa.Table]:
    """Fit a vocabulary on ``texts``.

    Args:
        texts: raw training sentences.
        pattern: ``latin`` or ``indic``.
        max_words: keep the most frequent words (corpus frequency; ties alphabetical).
        min_count: drop words seen fewer times.

    Returns:
        ``(vocabulary, counts)`` with counts columns ``word, index, count, doc_freq``.
    """
    tokenizer = Tokenizer(pattern)
    term_freq: Counter[str] = Counter()
    doc_freq: Counter[str] = Counter()
    for text in texts:
        tokens = tokenizer.tokens(text)
        term_freq.update(tokens)
        doc_freq.update(set(tokens))
    ranked = sorted((w for w, c in term_freq.items() if c >= min_count), key=lambda w: (-term_freq[w], w))
    words = sorted(ranked[:max_words])
    if not words:
        raise FlipInputError(f"vocabulary is empty: no token of pattern {pattern!r} occurs {min_count}+ times")
    counts = pa.table(
        {
            "word": words,
            "index": np.arange(len(words), dtype=np.int32),
            "count": np.array([term_freq[w] for w in words], dtype=np.int64),
            "doc_freq": np.array([doc_freq[w] for w in words], dtype=np.int64),
        }
    )
    return Vocabulary(words, tokenizer), counts


def write_vocabulary(vocab_dir: str | os.PathLike[str], vocab: Vocabulary, counts: pa.Table, settings: dict) -> None:
    """Write ``counts.parquet``, ``settings.json`` and, last, ``vocab.json`` (each atomically)."""
    vocab_dir = Path(vocab_dir)
    with atomic_path(vocab_dir / "counts.parquet") as tmp:
        pq.write_table(counts, tmp)
    write_json(vocab_dir / "settings.json", {**settings, "pattern": vocab.tokenizer.pattern, "size": len(vocab)})
    write_json(vocab_dir / "vocab.json", vocab.index)


@dataclass
class BagOfWords:
    """Counts of one text view, rows aligned with the corpus ids.

    Attributes:
        ids: ``(n,)`` row ids.
        counts: CSR int32 ``(n, W)``.
        oov_types: ``(n,)`` distinct out-of-vocabulary token types per row.
    """

    ids: np.ndarray
    counts: sp.csr_matrix
    oov_types: np.ndarray

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write an ``.npz`` (no pickle: every array has a plain dtype) atomically."""
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                ids=self.ids.astype(str),
                indptr=self.counts.indptr,
                indices=self.counts.indices,
                data=self.counts.data,
                shape=np.asarray(self.counts.shape, dtype=np.int64),
                oov_types=self.oov_types,
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BagOfWords:
        try:
            with np.load(path, allow_pickle=False) as z:
                counts = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
                return cls(z["ids"], counts, z["oov_types"])
        except (OSError, KeyError, ValueError) as err:
            raise FlipInputError(f"{path}: not a bag-of-words file: {err}") from None

    def check_aligned(self, ids: np.ndarray, source: str, own_path: str) -> None:
        """Raise naming the first differing row unless ``ids`` equal this matrix's ids."""
        if len(ids) != len(self.ids):
            raise FlipInputError(f"{own_path} has {len(self.ids)} rows but {source} has {len(ids)}")
        differ = np.flatnonzero(np.asarray(ids, dtype=str) != self.ids)
        if differ.size:
            row = int(differ[0])
            raise FlipInputError(
                f"row {row}: id {str(self.ids[row])!r} in {own_path} but {str(ids[row])!r} in {source} "
                f"({differ.size} rows differ)"
            )
