"""Probes that read lexical content out of sentence embeddings: LiP, FLiP (and SpLiCE later)."""
