"""flip-pipeline: how much lexical content does a sentence-embedding space keep?

Stages (each a ``flip <stage>`` subcommand and a Snakemake rule): corpus, embed,
vocab, bow, train, evaluate, report; plus ``flip keywords`` to query a checkpoint.
"""

__version__ = "0.1.0"
