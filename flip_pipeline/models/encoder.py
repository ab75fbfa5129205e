"""The encoder protocol every family implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Encoder(Protocol):
    """A sentence encoder behind one interface.

    Attributes:
        name: the config name of the encoder (``encoders.<name>``).
        dim: embedding dimension ``d``.
    """

    name: str
    dim: int

    def check_view(self, view: str) -> None:
        """Raise :class:`~flip_pipeline.errors.FlipInputError` if the view cannot be encoded."""

    def encode(self, ids: list[str], inputs: list[str], view: str) -> np.ndarray:
        """Embed one batch.

        Args:
            ids: row ids, length ``n``.
            inputs: raw text (text views) or audio paths (speech views), length ``n``.
            view: the view name, e.g. ``"text_en"``.

        Returns:
            float32 array of shape ``(n, dim)``.
        """

    # Optional: ``encode_skipping(ids, inputs, view) -> (embeddings (m, dim), {id: reason})``
    # for encoders whose inputs can be unusable (missing or empty audio) and whose config
    # allows skipping them; the embed stage then records the skipped ids in the manifest.

    def provenance(self) -> dict[str, str]:
        """Model id, revision, normalisation and library versions, for shard metadata."""


def encode_with_skips(encoder: Encoder, ids: list[str], inputs: list[str], view: str) -> tuple[np.ndarray, dict[str, str]]:
    """``(embeddings (m, dim) of the kept rows, {skipped id: reason})``: the encoder's
    ``encode_skipping`` when it has one, else its ``encode`` with nothing skipped."""
    encode_skipping = getattr(encoder, "encode_skipping", None)
    if encode_skipping is None:
        return encoder.encode(ids, inputs, view), {}
    return encode_skipping(ids, inputs, view)
