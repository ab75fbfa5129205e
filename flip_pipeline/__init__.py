"""flip-pipeline: how much lexical content does a sentence-embedding space keep?

The data flow is the folder layout: corpus sources (:mod:`.corpora`) → encoders
(:mod:`.encoders`) → the file formats every stage shares (:mod:`.formats`: corpus table,
embedding shards, vocabulary, bag of words, checkpoint, …, and the results layout) →
probes (:mod:`.probes`) trained by :mod:`.training` → metrics → reports (:mod:`.report`).
Each stage of :mod:`.stages` is one ``flip <stage>`` subcommand (:mod:`.cli`) and one
Snakemake rule: corpus, embed, import_published, pair, vocab, bow, train, splice,
evaluate, entities, entity_recall, report; ``flip keywords`` queries a checkpoint.
"""

__version__ = "0.1.0"
