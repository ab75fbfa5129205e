"""Layer names shared by every family, and which names each family offers (no torch: config
validation reads it).

* ``embeddings``: the input embeddings (text: token + position embeddings; speech: the
  frontend's output, i.e. the projected filterbank features the first layer reads);
* ``layer_01`` … ``layer_NN``: the output of each encoder layer, 1-based;
* ``pooled``: the model's own sentence embedding (SONAR), not a mean of ours;
* ``adaptor``: the speech encoder's output after its length adaptor (SeamlessM4T);
* ``speech_encoder``: the audio encoders' frames entering SALMONN's Q-Former (Whisper ⊕ BEATs);
  ``embeddings`` is then the decoder's input (the Q-Former's audio tokens, or the text's tokens).

How many encoder layers a model has is in its own config, read when its layers are
extracted; here only the *form* of a name is checked (:func:`layer_name_problem`).

=========================  ====================================================================
family                     layers
=========================  ====================================================================
``sonar``                  ``embeddings``, ``layer_01``..``layer_NN`` (hooks, before the final
                           layer norm), ``pooled`` (the sentence embedding); text and speech
``seamless_m4t``           ``embeddings``, ``layer_01``..``layer_NN`` (the last after the final
                           layer norm); speech also ``adaptor``; text and speech
``transformers``           ``embeddings``, ``layer_01``..``layer_NN`` of any transformers encoder; text
``sentence_transformers``  as ``transformers``, of the model's Hugging Face module; text
=========================  ====================================================================
"""

from __future__ import annotations

import re

EMBEDDINGS, POOLED, ADAPTOR, SPEECH_ENCODER = "embeddings", "pooled", "adaptor", "speech_encoder"
ENCODER_LAYER = re.compile(r"layer_(\d{2,})")
MODALITIES = ("text", "speech")

#: Per layer family, the names beyond ``embeddings`` and ``layer_NN`` and the modalities
#: that have them.
FAMILY_EXTRAS: dict[str, dict[str, tuple[str, ...]]] = {
    "sonar": {POOLED: MODALITIES},
    "seamless_m4t": {ADAPTOR: ("speech",)},
    "transformers": {},
    "sentence_transformers": {},
    "salmonn": {SPEECH_ENCODER: ("speech",)},
}
#: Layers of the speech side only: compared with a text layer of another name (the
#: similarity stage's layer pairing, :mod:`flip_pipeline.similarity.sets`).
SPEECH_ONLY = (ADAPTOR, SPEECH_ENCODER)


def layer_name(index: int) -> str:
    """``3`` → ``"layer_03"`` (1-based encoder layer)."""
    return f"layer_{index:02d}"


def stack_names(num_layers: int) -> list[str]:
    """``embeddings`` then ``layer_01`` … ``layer_{num_layers}``."""
    return [EMBEDDINGS] + [layer_name(i) for i in range(1, num_layers + 1)]


def encoder_layer_index(name: str) -> int | None:
    """``"layer_07"`` → 7; ``None`` for any other name."""
    match = ENCODER_LAYER.fullmatch(name)
    return int(match.group(1)) if match else None


def layer_name_problem(family: str, name: str, modalities: tuple[str, ...] | list[str]) -> str | None:
    """Why ``name`` is not a layer a model of ``family`` has in any of ``modalities``
    (``None`` when it may be one; an unknown family is not judged here)."""
    if family not in FAMILY_EXTRAS or name == EMBEDDINGS:
        return None
    index = encoder_layer_index(name)
    if index is not None:
        return None if index >= 1 else f"{name!r}: encoder layers count from layer_01"
    extras = FAMILY_EXTRAS[family]
    offered = ", ".join(["embeddings", "layer_NN", *(f"{k} ({'/'.join(v)})" for k, v in extras.items())])
    if name not in extras:
        return f"a {family} model has no layer {name!r} (its layers: {offered})"
    if not set(extras[name]) & set(modalities):
        return f"{name!r} is a layer of {'/'.join(extras[name])} only, and the model is analysed on {'/'.join(modalities)}"
    return None
