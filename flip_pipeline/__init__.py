"""flip-pipeline: how much lexical content does a sentence-embedding space keep?

The public Python API is :mod:`flip_pipeline.api`, re-exported here on first use (so that
``import flip_pipeline`` stays light: torch loads with the first probe)::

    import flip_pipeline as flip
    probe = flip.load_probe("results/models/quickstart/flip-r128-a0.5-minilm-text_en+text_de")
    probe.keywords(["The old farmer buys three red apples."], k=5)

The data flow is the folder layout: corpus sources (:mod:`.corpora`) → encoders
(:mod:`.encoders`) → the file formats every stage shares (:mod:`.formats`: corpus table,
embedding shards, vocabulary, bag of words, checkpoint, …, and the results layout) →
probes (:mod:`.probes`) trained by :mod:`.training` → metrics → reports (:mod:`.report`).
Each stage of :mod:`.stages` is one ``flip <stage>`` subcommand (:mod:`.cli`) and one
Snakemake rule: corpus, embed, import_published, pair, vocab, bow, train, splice,
evaluate, entities, entity_recall, report; ``flip keywords`` queries a checkpoint.
"""

__version__ = "0.1.0"

#: The names of :mod:`flip_pipeline.api` (its ``__all__``), imported from it on first use.
_API = ("FlipInputError", "LoadedProbe", "load_probe", "read_bow", "read_embeddings", "read_evaluation", "read_table")

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from flip_pipeline import api

        return getattr(api, name)
    raise AttributeError(f"module 'flip_pipeline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
