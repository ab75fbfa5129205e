"""Metric definitions on hand-checked cases, and the vectorised code against a plain loop."""

import numpy as np
import scipy.sparse as sp

from flip_pipeline.metrics import (
    adaptive_accuracy,
    hit_mask,
    jaccard,
    precision_recall_f1,
    reference_sets,
    summarize,
)


def _ref(rows, vocab_size):
    return reference_sets(sp.csr_matrix(np.array(rows), shape=(len(rows), vocab_size)))


def test_accuracy_uses_k_distinct_in_vocab_words_and_skips_empty_sentences():
    # sentence 0: words {0, 2, 5} (word 2 twice); sentence 1: no in-vocab word; sentence 2: {1}
    ref = _ref([[1, 0, 2, 0, 0, 1], [0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]], 6)
    top = np.array([[2, 3, 0, 5, 1, 4], [0, 1, 2, 3, 4, 5], [4, 1, 0, 2, 3, 5]])
    k = np.diff(ref.indptr)
    assert k.tolist() == [3, 0, 1]
    acc, evaluated = adaptive_accuracy(hit_mask(top, ref), k)
    assert evaluated.tolist() == [True, False, True]
    assert acc[0] == 2 / 3  # top-3 = {2, 3, 0}: hits 2 and 0
    assert np.isnan(acc[1])
    assert acc[2] == 0.0  # top-1 = {4}
    s = summarize(acc)
    assert s["n"] == 2 and np.isclose(s["mean"], 1 / 3)
    assert np.isclose(s["se"], np.std([2 / 3, 0]) / np.sqrt(2))


def test_precision_recall_f1_at_n():
    ref = _ref([[1, 1, 0, 0], [0, 0, 0, 1]], 4)
    top = np.array([[0, 2, 1, 3], [3, 0, 1, 2]])
    k = np.diff(ref.indptr)
    m = precision_recall_f1(hit_mask(top, ref), k, 2)
    assert m["precision"].tolist() == [0.5, 0.5]
    assert m["recall"].tolist() == [0.5, 1.0]
    assert np.allclose(m["f1"], [0.5, 2 * 0.5 * 1.0 / 1.5])


def _hit_keys(top, mask, k, vocab_size):
    """Sorted keys ``row * W + word`` of the hits within the first ``k_i`` ranks (the report's layout)."""
    keep = mask & (np.arange(top.shape[1])[None, :] < k[:, None])
    return np.sort(np.nonzero(keep)[0] * vocab_size + top[keep])


def test_jaccard_of_hit_sets():
    ref = _ref([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 1]], 5)
    k = np.diff(ref.indptr)
    top_a = np.array([[0, 1, 3, 2, 4], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]])
    top_b = np.array([[1, 2, 0, 3, 4], [1, 0, 2, 3, 4], [0, 1, 2, 3, 4]])
    keys_a = _hit_keys(top_a, hit_mask(top_a, ref), k, 5)  # hits: {0,1}, {0}, {}
    keys_b = _hit_keys(top_b, hit_mask(top_b, ref), k, 5)  # hits: {1,2,0}, {}, {}
    j = jaccard(keys_a, keys_b, 3, 5)
    assert j[0] == 2 / 3 and j[1] == 0.0 and np.isnan(j[2])


def test_vectorised_accuracy_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    n, w = 300, 40
    counts = sp.random(n, w, density=0.08, random_state=1, data_rvs=lambda s: rng.integers(1, 4, s)).tocsr()
    ref = reference_sets(counts)
    top = np.argsort(rng.random((n, w)), axis=1)
    acc, _ = adaptive_accuracy(hit_mask(top, ref), np.diff(ref.indptr))
    for i in range(n):
        words = set(counts[i].indices)
        if not words:
            assert np.isnan(acc[i])
            continue
        assert acc[i] == len(words & set(top[i, : len(words)])) / len(words)
