"""Probes that read lexical content out of sentence embeddings: LiP and FLiP (:mod:`.lip`,
trained on the objective of :mod:`.objective`) and the SpLiCE baseline (:mod:`.splice`)."""
