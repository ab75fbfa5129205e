"""One module per pipeline stage, each with one entry function that ``flip <stage>``
(:mod:`flip_pipeline.cli`) calls and a Snakemake rule runs: corpus, embed,
import_published (in place of embed and pair for published embeddings), pair, vocab, bow,
train, splice, evaluate, entities, entity_recall, report."""
