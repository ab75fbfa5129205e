"""LiP and FLiP: linear probes from a sentence embedding to a distribution over words.

* LiP (paper §2.1): ``logits = E x + b`` with ``E`` ``(W, d)`` and ``b`` ``(W, 1)``.
* FLiP (paper §2.3): ``E = E1 E2`` with ``E1`` ``(W, r)``, ``E2`` ``(r, d)``; the rank ``r`` is
  shared by every view (text and speech, or both languages of a pair).

Parameter names and shapes match the published checkpoints (``E``/``E1``/``E2``/``b``).
L1 acts on the word matrix (``E`` or ``E1``) by proximal soft-thresholding after each
optimiser step (:meth:`Probe.prox_l1`), never through the loss.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from flip_pipeline.errors import FlipInputError


class Probe(nn.Module):
    """Common interface of LiP and FLiP.

    Subclasses define :meth:`hidden` (the input of the word layer, ``(B, h)``) and
    :attr:`words` (the word matrix ``(W, h)`` that L1 regularises).
    """

    kind: str
    b: nn.Parameter

    @property
    def words(self) -> nn.Parameter:
        raise NotImplementedError

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        return self.b.shape[0]

    def init_bias_log_unigram(self, word_counts: np.ndarray) -> None:
        """``b_w = log (count_w + 1e-8) / (Σ counts + 1e-8 W)``: the published code's documented
        formula, which its training never applies (it assigns to ``.data`` of a view of ``b``), so
        the published bias stays at the Xavier-normal start every probe here begins with. Used
        only with ``training.bias_init: log_unigram`` (the default is ``xavier``)."""
        counts = torch.as_tensor(np.asarray(word_counts, dtype=np.float64))
        prior = torch.log((counts + 1e-8) / (counts.sum() + 1e-8 * len(counts)))
        with torch.no_grad():
            self.b.copy_(prior.to(self.b.dtype).view(-1, 1))

    def logits(self, x: torch.Tensor, use_bias: bool = True) -> torch.Tensor:
        """Scores ``(B, W)`` of every word for embeddings ``x`` ``(B, d)``."""
        scores = self.hidden(x) @ self.words.T
        return scores + self.b.T if use_bias else scores

    @torch.no_grad()
    def prox_l1(self, threshold: float) -> None:
        """Soft-threshold the word matrix: ``E ← sign(E) · max(|E| − threshold, 0)``.

        One in-place pass over ``E`` (ATen's ``softshrink`` writing into ``E``): ``E ∓ threshold``
        outside ``[−threshold, threshold]``, +0 inside, the very values of ``E − clamp(E, −threshold,
        threshold)`` (two passes moving five times ``E``'s bytes: for the paper-size ``E1``, 1 GB,
        ~0.25 ms at an H200's 4.1 TB/s). Called after each optimiser step with ``threshold = lr · λ``.
        """
        if threshold > 0:
            w = self.words
            torch.ops.aten.softshrink.out(w, threshold, out=w)


class LiP(Probe):
    """The full-rank linear probe: ``E`` ``(W, d)``, ``b`` ``(W, 1)``."""

    kind = "lip"

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.E = nn.Parameter(torch.empty(vocab_size, dim))
        self.b = nn.Parameter(torch.empty(vocab_size, 1))
        nn.init.xavier_normal_(self.E)
        nn.init.xavier_normal_(self.b)

    @property
    def words(self) -> nn.Parameter:
        return self.E

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @property
    def dim(self) -> int:
        return self.E.shape[1]


class FLiP(Probe):
    """The factorised probe: ``E1`` ``(W, r)``, ``E2`` ``(r, d)``, ``b`` ``(W, 1)``."""

    kind = "flip"

    def __init__(self, vocab_size: int, dim: int, rank: int):
        super().__init__()
        self.E1 = nn.Parameter(torch.empty(vocab_size, rank))
        self.E2 = nn.Parameter(torch.empty(rank, dim))
        self.b = nn.Parameter(torch.empty(vocab_size, 1))
        for p in (self.E1, self.E2, self.b):
            nn.init.xavier_normal_(p)

    @property
    def words(self) -> nn.Parameter:
        return self.E1

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.E2.T

    @property
    def dim(self) -> int:
        return self.E2.shape[1]

    @property
    def rank(self) -> int:
        return self.E2.shape[0]


def make_probe(kind: str, vocab_size: int, dim: int, rank: int | None = None) -> Probe:
    """``kind`` ``"lip"`` or ``"flip"``; ``rank`` ``None`` means full (``r = d``) for FLiP."""
    if kind == "lip":
        return LiP(vocab_size, dim)
    if kind == "flip":
        rank = dim if rank is None else rank
        if not 0 < rank <= dim:
            raise FlipInputError(f"rank {rank} must be between 1 and the embedding dimension {dim}")
        return FLiP(vocab_size, dim, rank)
    raise ValueError(f"unknown probe {kind!r}; expected 'lip' or 'flip'")
