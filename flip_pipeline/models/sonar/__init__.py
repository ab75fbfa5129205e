"""SONAR (sonar-space on fairseq2): sentence embeddings (:mod:`.embed`), the same forward pass
layer by layer (:mod:`.layers`), and the languages its encoders take (:mod:`.languages`)."""
