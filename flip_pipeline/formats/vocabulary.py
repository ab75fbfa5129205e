"""Vocabularies: words (LiP/FLiP) and concepts (unigrams and n-grams, SpLiCE and Table 6).

A word vocabulary is the paper's CountVectorizer: tokens from :class:`~flip_pipeline.text.Tokenizer`,
indices assigned in alphabetical order — the layout of the published ``vocab.json``
(word → index), so published checkpoints load directly. A *concept* is a unigram or a
multi-word n-gram written as its tokens joined by one space (tokens never contain a
space); concept indices are alphabetical too, so a FLiP trained on concepts has a
published-style ``vocab.json``. Fitting either kind is the vocab stage's job
(:mod:`flip_pipeline.stages.vocab`); this module is the files and their use.

Files of ``vocab/{vocab}/``, one layout for both kinds: ``vocab.json``, ``counts.parquet``
(word, index, count and, per kind, document frequency or n-gram order and PMI) and
``settings.json`` (``kind``: ``words`` or ``concepts``, pattern, source, sizes).

Greedy span matching (paper §3.3, span-aware accuracy): scan the sentence's tokens left to
right; at position ``i`` take the longest concept ``tokens[i:i+n]`` (``n`` from the longest
concept length down to 1); if one matches it is one *unit* and the scan jumps to ``i+n``;
if none matches, the token is not a unit and the scan advances by one token.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from flip_pipeline.atomic import atomic_path, write_json
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_json_object
from flip_pipeline.text import TOKEN_PATTERNS, Tokenizer

KINDS = ("words", "concepts")


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
        if pattern not in TOKEN_PATTERNS:
            raise FlipInputError(f"{path}: the token pattern recorded for it, {pattern!r}, is none of "
                                 f"{sorted(TOKEN_PATTERNS)}")
        mapping = read_json_object(path, "vocabulary (vocab.json)")
        words = [""] * len(mapping)
        for word, idx in mapping.items():
            if not isinstance(idx, int) or not 0 <= idx < len(mapping) or words[idx]:
                raise FlipInputError(f"{path}: index {idx!r} of word {word!r} is out of range or repeated")
            words[idx] = word
        return cls(words, Tokenizer(pattern))

    @classmethod
    def load(cls, vocab_dir: str | os.PathLike[str]) -> Vocabulary:
        """Load ``vocab.json`` with the pattern recorded in ``settings.json`` beside it."""
        return cls.from_json(Path(vocab_dir) / "vocab.json", vocabulary_settings(vocab_dir, "pattern")["pattern"])

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


def greedy_spans(tokens: list[str], index: Mapping[tuple[str, ...], int], max_n: int) -> tuple[list[int], list[str]]:
    """Greedy left-to-right longest match of ``tokens`` against n-gram concepts.

    Args:
        tokens: one sentence's tokens in order.
        index: concept token tuple → concept index.
        max_n: length of the longest concept.

    Returns:
        ``(units, unmatched)``: concept indices of the matched spans in sentence order
        (repeats kept), and the tokens no span covers.
    """
    units: list[int] = []
    unmatched: list[str] = []
    i = 0
    while i < len(tokens):
        for n in range(min(max_n, len(tokens) - i), 0, -1):
            concept = index.get(tuple(tokens[i : i + n]))
            if concept is not None:
                units.append(concept)
                i += n
                break
        else:
            unmatched.append(tokens[i])
            i += 1
    return units, unmatched


@dataclass
class ConceptVocabulary:
    """Concepts (unigrams and n-grams) with the tokenizer that produced them.

    Attributes:
        concepts: ``concepts[i]`` is concept ``i`` (size ``C``), tokens joined by one space.
        tokenizer: the analyser applied to any text before matching.
    """

    concepts: list[str]
    tokenizer: Tokenizer
    ngrams: dict[tuple[str, ...], int] = field(init=False)
    max_n: int = field(init=False)

    def __post_init__(self) -> None:
        self.ngrams = {tuple(c.split()): i for i, c in enumerate(self.concepts)}
        self.max_n = max((len(g) for g in self.ngrams), default=1)

    def __len__(self) -> int:
        return len(self.concepts)

    def bag_of_words(self, texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
        """Count greedy spans (see module docstring), the concept analogue of a bag of words.

        Returns:
            ``(counts, oov_types)``: CSR int32 ``(n, C)`` span counts with sorted column
            indices, and int32 ``(n,)`` numbers of distinct tokens no span covers.
        """
        rows, cols = [], []
        oov = np.zeros(len(texts), dtype=np.int32)
        for row, text in enumerate(texts):
            units, unmatched = greedy_spans(self.tokenizer.tokens(text), self.ngrams, self.max_n)
            rows.extend([row] * len(units))
            cols.extend(units)
            oov[row] = len(set(unmatched))
        counts = sp.csr_matrix(
            (np.ones(len(cols), dtype=np.int32), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
            shape=(len(texts), len(self.concepts)),
        )
        counts.sum_duplicates()  # also sorts the column indices
        return counts, oov

    @classmethod
    def load(cls, vocab_dir: str | os.PathLike[str]) -> ConceptVocabulary:
        """Load a folder written by :func:`write_vocabulary` (``vocab.json`` + ``settings.json``)."""
        plain = Vocabulary.load(vocab_dir)
        return cls(plain.words, plain.tokenizer)


def vocabulary_settings(vocab_dir: str | os.PathLike[str], *required: str) -> dict:
    """The ``settings.json`` of a vocabulary folder; an error naming the file when it is missing,
    not a JSON object, or lacks one of the ``required`` keys."""
    path = Path(vocab_dir) / "settings.json"
    settings = read_json_object(path, "vocabulary settings")
    missing = [key for key in required if not isinstance(settings.get(key), str)]
    if missing:
        raise FlipInputError(f"{path}: vocabulary settings lack {missing[0]!r} (rebuild the vocabulary)")
    return settings


def load_vocabulary(vocab_dir: str | os.PathLike[str]) -> Vocabulary | ConceptVocabulary:
    """The vocabulary of a ``vocab/{vocab}/`` folder by its ``settings.json`` ``kind``: a
    :class:`Vocabulary` (words) or a :class:`ConceptVocabulary` (greedy spans). Both have
    ``bag_of_words(texts) -> (counts, oov_types)``."""
    if vocabulary_settings(vocab_dir).get("kind") == "concepts":
        return ConceptVocabulary.load(vocab_dir)
    return Vocabulary.load(vocab_dir)


def write_vocabulary(vocab_dir: str | os.PathLike[str], entries: list[str], tokenizer: Tokenizer, counts: pa.Table,
                     settings: dict, kind: str = "words") -> None:
    """Write ``counts.parquet``, ``settings.json`` and, last, ``vocab.json`` (each atomically).

    Args:
        vocab_dir: ``vocab/{vocab}``.
        entries: words or concepts in index order (``W`` of them).
        tokenizer: the analyser that produced them (its pattern is recorded).
        counts: one row per entry (``word``, ``index``, ``count``, …).
        settings: provenance recorded in ``settings.json`` (name, source, sizes, …).
        kind: ``words`` or ``concepts``.
    """
    if kind not in KINDS:
        raise ValueError(f"vocabulary kind {kind!r}; known: {KINDS}")
    vocab_dir = Path(vocab_dir)
    with atomic_path(vocab_dir / "counts.parquet") as tmp:
        pq.write_table(counts, tmp)
    write_json(vocab_dir / "settings.json",
               {**settings, "kind": kind, "pattern": tokenizer.pattern, "size": len(entries)})
    write_json(vocab_dir / "vocab.json", {entry: i for i, entry in enumerate(entries)})
