"""The file formats every stage shares, one module each: corpus tables (:mod:`.corpus_table`),
embedding shards (:mod:`.shards`), pair scores (:mod:`.pair_scores`), vocabularies of words
and concepts (:mod:`.vocabulary`), bags of words (:mod:`.bow`), checkpoints
(:mod:`.checkpoint`), entities (:mod:`.entities`), evaluations (:mod:`.evaluation`), and where
each lives under the results folder (:mod:`.layout`)."""
