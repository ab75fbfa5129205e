"""Per-layer representations (the layers stage): one module per model family behind
:class:`~flip_pipeline.layers.base.LayerEncoder`, built from the same ``encoders.<name>``
config entries as the embed stage. Family modules are imported only when used.

=====================  ======================================================================
family                 layers
=====================  ======================================================================
``sonar``              ``embeddings``, ``layer_01``..``layer_NN`` (hooks, before the final
                       layer norm), ``pooled`` (the sentence embedding); text and speech
``seamless_m4t``       ``embeddings``, ``layer_01``..``layer_NN`` (the last after the final
                       layer norm); speech also ``adaptor``; text and speech
``transformers``       ``embeddings``, ``layer_01``..``layer_NN`` of any transformers encoder; text
``sentence_transformers``  as ``transformers``, of the model's Hugging Face module; text
``salmonn``            speech ``speech_encoder``; ``embeddings`` (the decoder's input),
                       ``layer_01``..``layer_NN`` of its decoder, split by position into the
                       speech and text parts of one sequence (:mod:`flip_pipeline.models.salmonn`);
                       each view is read with its paired view (``paired_view``)
=====================  ======================================================================

A new family: its layer names beyond ``embeddings``/``layer_NN`` in
:data:`flip_pipeline.layers.names.FAMILY_EXTRAS`, a branch in :func:`build_layer_encoder`, and,
if it takes a language, its model's language list beside it and in
:data:`flip_pipeline.encoders.languages.PROBLEMS` (config validation reads both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flip_pipeline.encoders import require_family
from flip_pipeline.errors import FlipInputError
from flip_pipeline.layers.names import FAMILY_EXTRAS

if TYPE_CHECKING:  # the package is imported by config validation, which loads no torch
    from flip_pipeline.layers.base import LayerEncoder

#: The families with per-layer representations: those whose layer names are known (layers.names).
LAYER_FAMILIES = tuple(FAMILY_EXTRAS)


def build_layer_encoder(name: str, spec: dict[str, Any], device: str = "cpu") -> LayerEncoder:
    """The layer encoder of the encoder configured as ``encoders.<name>``; models load on first use."""
    family = spec.get("family")
    require_family(name, spec)
    if family == "sonar":
        from flip_pipeline.layers.sonar import SonarLayers

        keys = ("text_encoder", "tokenizer", "speech_encoder", "languages", "precision", "batch_size", "max_tokens",
                "speech_batch_size", "max_audio_seconds", "max_seq_len", "max_audio_s", "skip_bad_audio", "progress")
        return SonarLayers(name, device=device, **{k: spec[k] for k in keys if k in spec})
    if family == "seamless_m4t":
        from flip_pipeline.layers.seamless_m4t import SeamlessM4TLayers

        keys = ("model", "languages", "precision", "batch_size", "max_tokens", "speech_batch_size", "max_audio_s",
                "skip_bad_audio", "revision")
        return SeamlessM4TLayers(name, device=device, **{k: spec[k] for k in keys if k in spec})
    if family in ("transformers", "sentence_transformers"):
        from flip_pipeline.layers.transformers import TransformersLayers, sentence_transformer_folder

        model, limit = spec["model"], spec.get("max_seq_len")
        if family == "sentence_transformers":
            model, st_limit = sentence_transformer_folder(model)
            limit = limit or st_limit
        keys = ("batch_size", "max_tokens", "precision", "revision")
        return TransformersLayers(name, model, device=device, max_seq_len=limit, family=family,
                                  **{k: spec[k] for k in keys if k in spec})
    if family == "salmonn":
        from flip_pipeline.models.salmonn.layers import SalmonnLayers

        return SalmonnLayers(name, device=device, **{k: v for k, v in spec.items() if k not in ("family", "label")})
    raise FlipInputError(f"encoders.{name}.family: {family!r} has no per-layer representations; "
                         f"the layers stage takes {', '.join(LAYER_FAMILIES)}")
