"""Concept vocabularies of unigrams and bigrams, and greedy span matching against them.

A *concept* is a unigram or a multi-word n-gram written as its tokens joined by one space
(tokens come from :class:`~flip_pipeline.text.Tokenizer`, so they never contain a space).

Building one (paper §3.4, following SpLiCE's vocabulary of frequent words and bigrams):

* unigram and bigram counts over the training sentences; bigrams are adjacent token
  pairs inside one sentence (never across sentences);
* candidates: unigrams seen ``min_count``+ times; bigrams seen ``min_bigram_count``+ times
  whose pointwise mutual information ``PMI(a b) = ln[(c(a b)/N₂) / ((c(a)/N₁)(c(b)/N₁))]``
  is at least ``min_pmi`` (``N₁`` tokens, ``N₂`` bigram positions, natural log);
* the ``unigrams`` and ``bigrams`` most frequent candidates are kept (ties alphabetical);
  asking for more than there are candidates is an error naming the config key.

Indices are assigned alphabetically, as in :class:`~flip_pipeline.vocab.Vocabulary`, so a
concept vocabulary is written in the same ``vocab/{vocab}/`` layout (``vocab.json``,
``counts.parquet``, ``settings.json`` with ``"kind": "concepts"``) and a FLiP trained on it
has a published-style ``vocab.json``.

Greedy span matching (paper §3.3, span-aware accuracy): scan the sentence's tokens left to
right; at position ``i`` take the longest concept ``tokens[i:i+n]`` (``n`` from the longest
concept length down to 1); if one matches it is one *unit* and the scan jumps to ``i+n``;
if none matches, the token is not a unit and the scan advances by one token.
"""

from __future__ import annotations

import math
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
from flip_pipeline.config import settings_from_dict
from flip_pipeline.errors import FlipInputError
from flip_pipeline.text import Tokenizer


@dataclass(frozen=True)
class ConceptSettings:
    """How a concept vocabulary is selected (the paper: 6,500 unigrams + 3,500 bigrams)."""

    unigrams: int = 6500
    bigrams: int = 3500
    min_count: int = 5
    min_bigram_count: int = 5
    min_pmi: float = 3.0
    pattern: str = "latin"

    @classmethod
    def from_dict(cls, spec: Mapping, key: str = "concepts") -> ConceptSettings:
        """Settings from a config entry; an unknown field is an error naming ``{key}.{field}``."""
        return settings_from_dict(cls, spec, key)


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
        """Load a folder written by :func:`write_concepts` (or any ``vocab.json`` + ``settings.json``)."""
        from flip_pipeline.vocab import Vocabulary

        plain = Vocabulary.load(vocab_dir)
        return cls(plain.words, plain.tokenizer)


def _ngram_counts(texts: list[str], tokenizer: Tokenizer) -> tuple[Counter[str], Counter[str]]:
    """Unigram and within-sentence bigram counts (bigrams as ``"a b"``)."""
    unigrams: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    for text in texts:
        tokens = tokenizer.tokens(text)
        unigrams.update(tokens)
        bigrams.update(f"{a} {b}" for a, b in zip(tokens, tokens[1:]))
    return unigrams, bigrams


def bigram_pmi(bigrams: Counter[str], unigrams: Counter[str]) -> dict[str, float]:
    """``PMI(a b) = ln[(c(a b)/N₂) / ((c(a)/N₁)(c(b)/N₁))]`` of every counted bigram (nats)."""
    n1, n2 = sum(unigrams.values()), sum(bigrams.values())
    pmi = {}
    for gram, count in bigrams.items():
        a, b = gram.split(" ")
        pmi[gram] = math.log(count * n1 * n1 / (n2 * unigrams[a] * unigrams[b]))
    return pmi


def _top(counts: Counter[str], candidates: list[str], wanted: int, what: str, key: str) -> list[str]:
    """The ``wanted`` most frequent candidates (ties alphabetical); an error naming ``key`` if too few."""
    if wanted > len(candidates):
        raise FlipInputError(f"{key}: {wanted} {what} requested but only {len(candidates)} pass the filters")
    return sorted(candidates, key=lambda g: (-counts[g], g))[:wanted]


def build_concepts(
    texts: list[str], settings: ConceptSettings, key: str = "concepts"
) -> tuple[ConceptVocabulary, pa.Table]:
    """Fit a concept vocabulary on training sentences (module docstring).

    Args:
        texts: raw training sentences.
        settings: sizes and filters.
        key: config key of the settings, named in errors (``{key}.unigrams``, ``{key}.bigrams``).

    Returns:
        ``(vocabulary, counts)`` with counts columns ``word, index, count, order, pmi``
        (``order`` 1 or 2; ``pmi`` NaN for unigrams).
    """
    tokenizer = Tokenizer(settings.pattern)
    unigrams, bigrams = _ngram_counts(texts, tokenizer)
    pmi = bigram_pmi(bigrams, unigrams)
    uni_ok = [w for w, c in unigrams.items() if c >= settings.min_count]
    bi_ok = [g for g, c in bigrams.items() if c >= settings.min_bigram_count and pmi[g] >= settings.min_pmi]
    chosen = _top(unigrams, uni_ok, settings.unigrams, f"unigrams (min_count {settings.min_count})",
                  f"{key}.unigrams")
    chosen += _top(bigrams, bi_ok, settings.bigrams,
                   f"bigrams (min_bigram_count {settings.min_bigram_count}, min_pmi {settings.min_pmi})",
                   f"{key}.bigrams")
    concepts = sorted(chosen)
    counts = pa.table(
        {
            "word": concepts,
            "index": np.arange(len(concepts), dtype=np.int32),
            "count": np.array([bigrams[c] if " " in c else unigrams[c] for c in concepts], dtype=np.int64),
            "order": np.array([len(c.split(" ")) for c in concepts], dtype=np.int8),
            "pmi": np.array([pmi.get(c, np.nan) for c in concepts], dtype=np.float64),
        }
    )
    return ConceptVocabulary(concepts, tokenizer), counts


def write_concepts(vocab_dir: str | os.PathLike[str], vocab: ConceptVocabulary, counts: pa.Table,
                   settings: dict) -> None:
    """Write ``counts.parquet``, ``settings.json`` (``kind: concepts``) and, last, ``vocab.json``, atomically."""
    vocab_dir = Path(vocab_dir)
    with atomic_path(vocab_dir / "counts.parquet") as tmp:
        pq.write_table(counts, tmp)
    write_json(vocab_dir / "settings.json",
               {**settings, "kind": "concepts", "pattern": vocab.tokenizer.pattern, "size": len(vocab)})
    write_json(vocab_dir / "vocab.json", {c: i for i, c in enumerate(vocab.concepts)})
