"""Keyword ranking (paper eq. 5): the top-ranked words of ``E x (+ b)``, in chunks of bounded memory.

Used by training (dev recall), evaluation, entity recall and the keywords stage.
"""

from __future__ import annotations

import numpy as np
import torch

from flip_pipeline.probes.lip import Probe


@torch.no_grad()
def top_words(
    probe: Probe, embeddings: np.ndarray, depth: int, use_bias: bool = False, logits_memory_mb: float = 512.0
) -> np.ndarray:
    """Indices of the ``depth`` highest-scoring words per embedding, ranked on the probe's device.

    Args:
        probe: a trained LiP or FLiP (on any device: a GPU ranks there).
        embeddings: float32 ``(n, d)`` on the host.
        depth: how many words per row (clipped to the vocabulary size).
        use_bias: add the log-unigram bias ``b`` (the paper evaluates without it).
        logits_memory_mb: cap on the ``(rows, W)`` score buffer; rows are scored in chunks, so the
            device holds the probe, one chunk's scores and the ``(n, depth)`` indices at most.

    Returns:
        int64 ``(n, depth)``, best first. The indices of every chunk stay on the device until the
        last one is ranked (one copy back, so the device never waits for the host between chunks).
    """
    device = probe.b.device
    depth = min(depth, probe.vocab_size)
    top = torch.empty((len(embeddings), depth), dtype=torch.int64, device=device)
    batch_size = max(1, int(logits_memory_mb * 2**20 // (4 * probe.vocab_size)))
    for lo in range(0, len(embeddings), batch_size):
        x = torch.tensor(embeddings[lo : lo + batch_size], dtype=torch.float32).to(device)  # a copy: may be read-only
        scores = probe.logits(x, use_bias=use_bias)
        top[lo : lo + len(x)] = scores.topk(depth, dim=1, sorted=True).indices
    return top.cpu().numpy()
