"""Keyword-extraction metrics with the paper's definitions, vectorised over sentences.

Notation: ``top`` is an ``(n, K)`` int array of word indices ranked by score (distinct per
row); the *reference* of sentence ``i`` is its set of distinct in-vocabulary tokens, an
``(n, W)`` CSR matrix; ``k_i`` is its size.

* accuracy (paper §3.3): ``|top_i[:k_i] ∩ ref_i| / k_i``; sentences with ``k_i = 0`` are
  skipped and counted.
* precision, recall, F1 at ``N``: ``hits = |top_i[:N] ∩ ref_i|``, ``P = hits / N``,
  ``R = hits / k_i``. Recall counts in-vocabulary reference words only (a probe cannot
  name an out-of-vocabulary word; OOV counts are reported beside it).
* Jaccard index of two models' *hit sets* on the same sentences: per sentence
  ``|H_a ∩ H_b| / |H_a ∪ H_b|``, averaged over sentences where the union is non-empty.
* Summaries: mean, standard deviation, standard error ``std / sqrt(n)`` and ``n``.
* Span-aware accuracy (paper §3.3): accuracy against greedy reference spans over a concept
  vocabulary of unigrams and n-grams (:func:`span_reference`), each span one unit.
* Named-entity recall (paper §3.3, §4.6): strict and partial recall of each entity's
  in-vocabulary tokens among the top-``k`` words (:func:`entity_reference`,
  :func:`entity_recall`), averaged over sentences (the published evaluation: each sentence's
  mean over its entities, then the mean over sentences; :func:`sentence_means`) or over entities.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from flip_pipeline.formats.vocabulary import ConceptVocabulary
from flip_pipeline.text import Tokenizer


def reference_sets(counts: sp.csr_matrix) -> sp.csr_matrix:
    """Binary ``(n, W)`` CSR of distinct in-vocabulary tokens, sorted column indices."""
    ref = counts.astype(bool).astype(np.int8).tocsr()
    ref.sort_indices()
    return ref


def _keys(ref: sp.csr_matrix) -> np.ndarray:
    """Sorted int64 keys ``row * W + col`` of the nonzeros of a CSR with sorted indices."""
    rows = np.repeat(np.arange(ref.shape[0], dtype=np.int64), np.diff(ref.indptr))
    return rows * ref.shape[1] + ref.indices.astype(np.int64)


def hit_mask(top: np.ndarray, ref: sp.csr_matrix) -> np.ndarray:
    """``(n, K)`` bool: whether ``top[i, j]`` is in the reference of sentence ``i``."""
    keys = _keys(ref)
    query = np.arange(top.shape[0], dtype=np.int64)[:, None] * ref.shape[1] + top.astype(np.int64)
    if keys.size == 0:
        return np.zeros(top.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    return keys[pos] == query


def hits_within(mask: np.ndarray, depth: np.ndarray | int) -> np.ndarray:
    """``(n,)`` number of hits among the first ``depth_i`` ranks of each row."""
    ranks = np.arange(mask.shape[1])
    depth = np.broadcast_to(np.asarray(depth), (mask.shape[0],))
    return (mask & (ranks[None, :] < depth[:, None])).sum(axis=1)


def adaptive_accuracy(mask: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sentence accuracy with ``k_i`` = reference size.

    Returns:
        ``(accuracy, evaluated)``: float64 ``(n,)`` (NaN where skipped) and the bool mask of
        sentences with ``k_i > 0``.
    """
    evaluated = k > 0
    acc = np.full(k.shape, np.nan)
    acc[evaluated] = hits_within(mask, k)[evaluated] / k[evaluated]
    return acc, evaluated


def precision_recall_f1(mask: np.ndarray, k: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per-sentence P, R, F1 at top-``n`` (NaN where ``k_i = 0``)."""
    hits = hits_within(mask, n).astype(np.float64)
    evaluated = k > 0
    p = np.where(evaluated, hits / n, np.nan)
    r = np.where(evaluated, hits / np.maximum(k, 1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), np.where(evaluated, 0.0, np.nan))
    return {"precision": p, "recall": r, "f1": f1}


def jaccard(keys_a: np.ndarray, keys_b: np.ndarray, n_rows: int, vocab_size: int) -> np.ndarray:
    """Per-sentence Jaccard index of two hit sets; NaN where both are empty.

    Args:
        keys_a, keys_b: sorted unique int64 keys ``row * vocab_size + word`` of each hit set.
        n_rows: sentences; vocab_size: ``W``.
    """
    count = lambda keys: np.bincount(keys // vocab_size, minlength=n_rows)  # noqa: E731
    inter = count(np.intersect1d(keys_a, keys_b, assume_unique=True))
    union = count(keys_a) + count(keys_b) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def summarize(values: np.ndarray) -> dict[str, float | int]:
    """Mean, std, standard error and count of the non-NaN values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    n = int(v.size)
    if n == 0:
        return {"mean": float("nan"), "std": float("nan"), "se": float("nan"), "n": 0}
    std = float(v.std())
    return {"mean": float(v.mean()), "std": std, "se": std / np.sqrt(n), "n": n}


# Span-aware accuracy (paper §3.3) -------------------------------------------------------


def span_reference(texts: list[str], concepts: list[str], tokenizer: Tokenizer) -> sp.csr_matrix:
    """Binary ``(n, C)`` CSR of each sentence's distinct reference spans over a concept vocabulary.

    Spans come from greedy left-to-right longest matching
    (:func:`flip_pipeline.formats.vocabulary.greedy_spans`): at token ``i`` the longest concept
    ``tokens[i:i+n]`` is one unit and matching resumes at ``i+n``; a token starting no
    concept is not a unit and matching resumes at ``i+1``. Tokens inside a matched n-gram
    are not units of their own (``new york`` counts once, ``york`` is then no reference).

    Span-aware accuracy is :func:`adaptive_accuracy` of ``hit_mask(top, ref)`` with
    ``k = np.diff(ref.indptr)`` (distinct units); AND the mask with a predictor's validity
    mask where some of its ranks are no prediction (SpLiCE weights of 0).

    Args:
        texts: raw sentences.
        concepts: ``C`` concepts in index order, tokens joined by one space.
        tokenizer: the analyser that produced the concepts.
    """
    counts, _ = ConceptVocabulary(list(concepts), tokenizer).bag_of_words(texts)
    return reference_sets(counts)


# Named-entity recall (paper §3.3, §4.6) -------------------------------------------------


def entity_reference(
    entities: list[list[str]], tokenizer: Tokenizer, index: Mapping[str, int]
) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray]:
    """Tokens of every entity, for :func:`entity_recall`.

    An entity's *constituent unigrams* are the distinct tokens of its text under the
    vocabulary's tokenizer that are in the vocabulary; out-of-vocabulary tokens can never
    be retrieved and are counted apart (as the OOV types beside accuracy).

    Args:
        entities: ``entities[i]`` are the entity texts of sentence ``i`` (``E`` in all).
        tokenizer: the vocabulary's analyser.
        index: word → index of the vocabulary (size ``W``).

    Returns:
        ``(sentence, tokens, oov)``: int64 ``(E,)`` sentence row of each entity, binary
        int8 CSR ``(E, W)`` of its in-vocabulary tokens, int32 ``(E,)`` distinct OOV tokens.
    """
    sentence, rows, cols, oov = [], [], [], []
    for row, texts in enumerate(entities):
        for text in texts:
            words = set(tokenizer.tokens(text))
            known = sorted({index[w] for w in words if w in index})
            rows.extend([len(sentence)] * len(known))
            cols.extend(known)
            oov.append(sum(w not in index for w in words))
            sentence.append(row)
    tokens = sp.csr_matrix(
        (np.ones(len(cols), dtype=np.int8), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
        shape=(len(sentence), len(index)),
    )
    return np.asarray(sentence, dtype=np.int64), tokens, np.asarray(oov, dtype=np.int32)


def _token_ranks(top: np.ndarray, sentence: np.ndarray, tokens: sp.csr_matrix) -> np.ndarray:
    """Rank of every nonzero of ``tokens`` in its sentence's ``top`` row (``K`` where absent)."""
    n, depth = top.shape
    width = tokens.shape[1]
    keys = np.arange(n, dtype=np.int64)[:, None] * width + top.astype(np.int64)
    order = np.argsort(keys, axis=None)
    sorted_keys = keys.reshape(-1)[order]
    entity_of_token = np.repeat(np.arange(tokens.shape[0]), np.diff(tokens.indptr))
    query = sentence[entity_of_token] * width + tokens.indices.astype(np.int64)
    if sorted_keys.size == 0:
        return np.full(query.shape, depth)
    pos = np.minimum(np.searchsorted(sorted_keys, query), sorted_keys.size - 1)
    return np.where(sorted_keys[pos] == query, order[pos] % depth, depth)


def entity_recall(
    top: np.ndarray, sentence: np.ndarray, tokens: sp.csr_matrix, ks: list[int]
) -> dict[str, np.ndarray]:
    """Strict and partial recall of every entity among the top-``k`` words, for each ``k``.

    * strict: 1 if every in-vocabulary token of the entity is among the top ``k``, else 0;
    * partial: the share of its in-vocabulary tokens among the top ``k``.

    Entities without an in-vocabulary token get NaN (skipped by :func:`summarize`).
    Rank with or without the bias as the caller chose when computing ``top``.

    Args:
        top: int ``(n, K)`` word indices ranked best first (distinct per row).
        sentence, tokens: from :func:`entity_reference` (``E`` entities).
        ks: the ``k`` values, each at most ``K``.

    Returns:
        ``{"strict": (len(ks), E), "partial": (len(ks), E)}`` float64.
    """
    if max(ks, default=0) > top.shape[1]:
        raise ValueError(f"k = {max(ks)} exceeds the {top.shape[1]} ranked words per sentence")
    ranks = _token_ranks(top, sentence, tokens)
    size = np.diff(tokens.indptr)
    entity_of_token = np.repeat(np.arange(len(size)), size)
    strict = np.full((len(ks), len(size)), np.nan)
    partial = np.full((len(ks), len(size)), np.nan)
    known = size > 0
    for j, k in enumerate(ks):
        found = np.bincount(entity_of_token, weights=ranks < k, minlength=len(size))
        strict[j, known] = (found[known] == size[known]).astype(np.float64)
        partial[j, known] = found[known] / size[known]
    return {"strict": strict, "partial": partial}


def sentence_means(values: np.ndarray, sentence: np.ndarray, n_sentences: int) -> np.ndarray:
    """Per-sentence mean of per-entity values, ignoring NaN (entities without a vocabulary token).

    Args:
        values: float ``(m, E)``, e.g. :func:`entity_recall`'s ``strict`` (one row per ``k``).
        sentence: int ``(E,)`` sentence row of each entity (:func:`entity_reference`).
        n_sentences: ``S``.

    Returns:
        float64 ``(m, S)``; NaN for a sentence with no scored entity.
    """
    scored = ~np.isnan(values)
    total = np.zeros((values.shape[0], n_sentences))
    count = np.zeros((values.shape[0], n_sentences))
    np.add.at(total, (slice(None), sentence), np.where(scored, values, 0.0))
    np.add.at(count, (slice(None), sentence), scored)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
