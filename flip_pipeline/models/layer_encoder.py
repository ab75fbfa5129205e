"""Per-layer sentence representations: the protocol every family implements, and masked
mean pooling.

A *layer representation* of a sentence is the mean over its sequence positions of one
layer's hidden states, padding excluded (thesis §3): ``(T, d)`` hidden states of a
sentence of ``T`` positions → one ``(d,)`` vector. Layer names, shared by every family, are
in :mod:`flip_pipeline.models.layer_names` (``embeddings``, ``layer_01`` …, ``pooled``, ``adaptor``).

Every representation also records whether the model's final layer norm has been applied
to it (:data:`LAYER_NORMS`), since hooks and ``hidden_states`` differ on that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from flip_pipeline.errors import FlipInputError

POOLING = "masked_mean"
#: ``before``: the model has a final layer norm and this representation precedes it;
#: ``after``: it has been applied; ``none``: the model has no final layer norm (each
#: post-LN layer ends in its own).
LAYER_NORMS = ("before", "after", "none")


class LayerEncoder(Protocol):
    """A model whose hidden states are pooled per layer, in one forward pass per batch.

    Attributes:
        name: the config name (``encoders.<name>``).
    """

    name: str

    def check_view(self, view: str) -> None:
        """Raise :class:`FlipInputError` naming ``view`` if the model cannot encode it
        (a speech view for a text-only model, a language it has no code for)."""

    def layer_names(self, view: str) -> list[str]:
        """Every layer the model offers for ``view``, in model order (read from its config;
        no weights are loaded)."""

    def layer_norm(self, view: str, layer: str) -> str:
        """One of :data:`LAYER_NORMS` for ``layer`` of ``view``."""

    def encode_layers(self, ids: list[str], inputs: list[str], view: str, layers: list[str]) -> dict[str, np.ndarray]:
        """Pool every layer of ``layers`` for one batch of rows.

        Args:
            ids: row ids, length ``n``.
            inputs: raw texts (text views) or audio paths (speech views), length ``n``.
            view: e.g. ``"speech_en"``.
            layers: names from :meth:`layer_names`.

        Returns:
            ``{layer: float32 (n, d_layer)}`` in input order; every layer of every row from
            the same forward pass of its batch.
        """

    # Optional: ``encode_layers_skipping(ids, inputs, view, layers) -> (arrays of the kept
    # rows, {id: reason})`` for families whose audio may be unusable and whose config allows
    # skipping it (SONAR with ``skip_bad_audio``), as in :mod:`flip_pipeline.models.encoder`.
    # Optional: ``paired_view(view) -> view`` for a model that reads a sentence's speech and
    # text together (SALMONN); its ``encode_layers``/``encode_layers_skipping`` then take
    # ``paired=`` that view's column for the same rows.

    def provenance(self) -> dict[str, str]:
        """Model id, revision, precision and library versions, for shard metadata."""


def encode_layers_with_skips(encoder: LayerEncoder, ids: list[str], inputs: list[str], view: str,
                             layers: list[str], paired: list[str] | None = None,
                             ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``({layer: (m, d)} of the kept rows, {skipped id: reason})``: the encoder's
    ``encode_layers_skipping`` when it has one, else ``encode_layers`` with nothing skipped;
    ``paired`` (the rows' ``paired_view`` column) goes to encoders that read one."""
    extra = {} if paired is None else {"paired": paired}
    skipping = getattr(encoder, "encode_layers_skipping", None)
    if skipping is None:
        return encoder.encode_layers(ids, inputs, view, layers, **extra), {}
    return skipping(ids, inputs, view, layers, **extra)


def select_layers(requested: str | Sequence[str], available: list[str], encoder: str, view: str) -> list[str]:
    """The layers to extract, in model order: ``"all"`` → ``available``; a list of names →
    those, each of which must be in ``available`` (an error names the missing ones and the
    model's layers)."""
    if requested == "all":
        return list(available)
    if isinstance(requested, str) or not requested:
        raise FlipInputError(f"layers of encoder {encoder!r}: give 'all' or a non-empty list of layer names, "
                             f"not {requested!r}")
    missing = [name for name in requested if name not in available]
    if missing:
        raise FlipInputError(f"thesis.models.{encoder}.layers: encoder {encoder!r}, view {view!r} has no layer "
                             f"{', '.join(map(repr, missing))}; its layers: {', '.join(available)}")
    wanted = set(requested)
    return [name for name in available if name in wanted]


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the sequence of the unpadded positions.

    Args:
        hidden: ``(n, T, d)`` hidden states, any float dtype.
        mask: ``(n, T)``, true (or 1) at real positions, false (0) at padding; every row
            needs at least one real position.

    Returns:
        float32 ``(n, d)`` on ``hidden``'s device; padded positions (whatever they hold,
        even NaN) do not contribute.
    """
    keep = mask.to(device=hidden.device, dtype=torch.bool)
    counts = keep.sum(dim=1, keepdim=True)
    if bool((counts == 0).any()):
        raise ValueError("masked_mean: a row has no unpadded position")
    summed = torch.where(keep.unsqueeze(-1), hidden.float(), 0.0).sum(dim=1)
    return summed / counts.float()


def lengths_mask(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """``(n,)`` sequence lengths → boolean ``(n, width)`` mask of the first ``length`` positions."""
    return torch.arange(width, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def to_numpy(pooled: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """``{layer: float32 (n, d) tensor}`` → contiguous float32 numpy arrays on the CPU."""
    return {name: np.ascontiguousarray(t.detach().float().cpu().numpy(), dtype=np.float32) for name, t in pooled.items()}
