"""Greedy span matching, concept bags of words and span-aware accuracy (paper §3.3)."""

from __future__ import annotations

import numpy as np

from flip_pipeline.formats.vocabulary import ConceptVocabulary, greedy_spans, write_vocabulary
from flip_pipeline.metrics import adaptive_accuracy, hit_mask, span_reference
from flip_pipeline.stages.vocab import ConceptSettings, build_concepts
from flip_pipeline.text import Tokenizer

CONCEPTS = ["big", "cheese cake", "city", "cream cheese", "ice cream", "is", "new", "new york", "new york city", "york"]
LATIN = Tokenizer("latin")


def test_greedy_takes_the_longest_match_at_each_position_then_jumps():
    vocab = ConceptVocabulary(CONCEPTS, LATIN)
    units, unmatched = greedy_spans("new york city is the big city".split(), vocab.ngrams, vocab.max_n)
    assert [CONCEPTS[u] for u in units] == ["new york city", "is", "big", "city"]
    assert unmatched == ["the"]
    # greedy, not optimal: 'ice cream' is taken at 0, so 'cream cheese' is never considered
    units, unmatched = greedy_spans("ice cream cheese cake".split(), vocab.ngrams, vocab.max_n)
    assert [CONCEPTS[u] for u in units] == ["ice cream", "cheese cake"]
    # a prefix of a concept is no match: 'new york' is the longest at 0, 'zoo' starts nothing
    units, unmatched = greedy_spans("new york zoo".split(), vocab.ngrams, vocab.max_n)
    assert [CONCEPTS[u] for u in units] == ["new york"] and unmatched == ["zoo"]


def test_span_bag_of_words_counts_units_and_oov_types():
    counts, oov = ConceptVocabulary(CONCEPTS, LATIN).bag_of_words(
        ["New York, New York!", "The zoo, the park.", "York is big"])
    assert counts.toarray().tolist() == [
        [0, 0, 0, 0, 0, 0, 0, 2, 0, 0],
        [0] * 10,
        [1, 0, 0, 0, 0, 1, 0, 0, 0, 1],
    ]
    assert oov.tolist() == [0, 3, 0]  # the, zoo, park


def test_span_aware_accuracy_counts_each_span_once_and_skips_spanless_sentences():
    texts = ["I love New York City and the big cheese cake", "nothing here", "Big York"]
    ref = span_reference(texts, CONCEPTS, LATIN)
    k = np.diff(ref.indptr)
    assert k.tolist() == [3, 0, 2]  # {new york city, big, cheese cake}; none; {big, york}
    idx = {c: i for i, c in enumerate(CONCEPTS)}
    top = np.array([
        [idx["new york city"], idx["new"], idx["cheese cake"], idx["big"]],  # 'new' is no unit here
        [idx["is"], idx["big"], idx["city"], idx["new"]],
        [idx["york"], idx["new york"], idx["big"], idx["is"]],  # 'big' at rank 3 > k = 2
    ])
    accuracy, evaluated = adaptive_accuracy(hit_mask(top, ref), k)
    assert evaluated.tolist() == [True, False, True]
    np.testing.assert_allclose(accuracy, [2 / 3, np.nan, 1 / 2])


def test_written_concepts_load_and_match_bigrams(tmp_path):
    vocab, counts = build_concepts(["new york is big", "new york is old", "the big dog"],
                                   ConceptSettings(unigrams=4, bigrams=1, min_count=2, min_bigram_count=2, min_pmi=2.0))
    write_vocabulary(tmp_path, vocab.concepts, vocab.tokenizer, counts, {"name": "toy"}, "concepts")
    loaded = ConceptVocabulary.load(tmp_path)
    assert loaded.concepts == vocab.concepts and loaded.max_n == 2
    assert [loaded.concepts[j] for j in loaded.bag_of_words(["Big New York"])[0].indices] == ["big", "new york"]
