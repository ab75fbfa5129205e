"""One transformers model folder or hub id at one revision, each object read from it at most once.

The layer families read a model's config (layer counts, position limits) before they load its weights,
and its tokenizer or feature extractor only when the first batch comes; :class:`PretrainedFiles`
holds that laziness once, for every family built on transformers.
"""

from __future__ import annotations

import functools
import importlib.metadata
from typing import Any

from flip_pipeline.models.sentence_transformers import resolve_model_path


class PretrainedFiles:
    """``model`` (a hub id, a folder or ``package:<module>``) at ``revision``.

    Args:
        model: what ``from_pretrained`` reads, ``package:<module>`` resolved to the folder it ships.
        revision: hub revision (``None``: the default branch).
    """

    def __init__(self, model: str, revision: str | None = None):
        self.model, self.path, self.revision = model, resolve_model_path(model), revision

    def load(self, cls: Any, **kwargs: Any) -> Any:
        """``cls.from_pretrained`` of this model at this revision (weights: each call loads them anew)."""
        return cls.from_pretrained(self.path, revision=self.revision, **kwargs)

    def provenance(self, precision: str, layer_source: str) -> dict[str, str]:
        """The shards' provenance metadata of a layer family that reads these files (pooled states, no
        normalisation) at ``precision``, its states taken from ``layer_source``."""
        return {
            "model_id": self.model,
            "revision": self.revision or "default",
            "normalisation": "none",
            "precision": precision,
            "layer_source": layer_source,
            "transformers": importlib.metadata.version("transformers"),
        }

    @functools.cached_property
    def config(self) -> Any:
        from transformers import AutoConfig

        return self.load(AutoConfig)

    @functools.cached_property
    def tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        return self.load(AutoTokenizer)

    @functools.cached_property
    def feature_extractor(self) -> Any:
        """SeamlessM4T's speech features (80 mel bins, stacked in pairs)."""
        from transformers import SeamlessM4TFeatureExtractor

        return self.load(SeamlessM4TFeatureExtractor)
