"""SeamlessM4T v2 (transformers): per-layer representations of text and speech (:mod:`.layers`)
and the languages its encoders take (:mod:`.languages`)."""
