"""The smallest configuration the workflow tests run: a sample corpus, a bag-of-words encoder, one table."""

from __future__ import annotations

TINY = {
    "results": "results", "device": "cpu",
    "corpora": {"tiny": {"source": "sample", "n_sentences": 800, "languages": ["en", "de"],
                         "splits": {"train": 0.8, "dev": 0.1, "test": 0.1}, "seed": 0}},
    "encoders": {"bow": {"family": "bow_projection", "dim": 64}},
    "vocabularies": {"tiny_en": {"corpus": "tiny", "view": "text_en"}},
    "training": {"batch_size": 128, "max_iterations": 3, "eval_every": 1},
    "experiments": {"tiny": {"corpus": "tiny", "vocab": "tiny_en", "encoders": ["bow"], "probes": ["lip", "flip"],
                             "ranks": [16], "train_views": [["text_en"]], "test_views": ["text_en"]}},
    "tables": {"tiny": {"layout": "accuracy", "experiments": ["tiny"], "caption": "tiny"}},
    "targets": ["tiny"],
}
