"""A hand-set LiP checkpoint for tests that need exact, predictable top words."""

from __future__ import annotations

from pathlib import Path

import torch

from flip_pipeline.formats.checkpoint import save_checkpoint
from flip_pipeline.formats.vocabulary import Vocabulary
from flip_pipeline.probes.lip import make_probe
from flip_pipeline.text import Tokenizer


def save_identity_lip(folder: Path, words: list[str], biased: str = "the") -> Path:
    """Write a LiP with ``E = I`` (embedding dimension i scores word i) and a bias of 10 on
    ``biased`` only, as :func:`save_checkpoint` writes it, into ``folder``; returns ``folder``."""
    probe = make_probe("lip", len(words), len(words))
    with torch.no_grad():
        probe.E.copy_(torch.eye(len(words)))
        probe.b.zero_()
        probe.b[words.index(biased)] = 10.0
    save_checkpoint(folder, probe, Vocabulary(words, Tokenizer("latin")), {})
    return folder
