"""Any Hugging Face transformers text encoder, layer by layer (``AutoModel``, ``output_hidden_states``).

The model is a hub id, a local folder, or ``package:<module>`` (a package that ships its
weights, :func:`~flip_pipeline.models.sentence_transformers.resolve_model_path`); a
sentence-transformers folder is read through the Hugging Face model of its
``Transformer`` module. ``hidden_states[0]`` is ``embeddings`` and ``hidden_states[i]``
is ``layer_{i:02d}``. Whether ``hidden_states[-1]`` is after a final layer norm differs
by architecture (BERT has none: each post-LN layer ends in its own; pre-LN models apply
one), so it is measured on the first batch: the last layer module's own output is
compared with ``hidden_states[-1]``.

Texts are tokenised once, sorted by token count into batches
(:func:`~flip_pipeline.models.batching.length_sorted_batches`), padded per batch, and
every requested layer of a batch is pooled from its one forward pass over the positions
of its attention mask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_json, read_json_object
from flip_pipeline.formats.corpus_table import view_modality
from flip_pipeline.models.batching import cpu_token_budget, length_sorted_batches
from flip_pipeline.models.layer_encoder import masked_mean, to_numpy
from flip_pipeline.models.layer_names import stack_names
from flip_pipeline.models.precision import model_dtype
from flip_pipeline.models.pretrained import PretrainedFiles
from flip_pipeline.models.sentence_transformers import resolve_model_path
from flip_pipeline.progress import advance

log = logging.getLogger(__name__)

#: Padded tokens (rows × longest) per batch on CPU unless ``max_tokens`` is given (as the
#: sentence-transformers encoder's budget).
CPU_MAX_TOKENS = 1024


def sentence_transformer_folder(model: str) -> tuple[str, int | None]:
    """``(Hugging Face model id or folder, max_seq_length)`` of a sentence-transformers model:
    a local folder's ``Transformer`` module (``modules.json``) and its ``sentence_bert_config.json``
    limit; a hub id unchanged (its model sits at the top) with no limit known offline."""
    folder = Path(resolve_model_path(model))
    modules = folder / "modules.json"
    if not modules.is_file():
        return str(folder) if folder.is_dir() else model, None
    entries = read_json(modules, "sentence-transformers module list")
    transformer = next((e for e in entries if isinstance(e, dict) and str(e.get("type", "")).endswith(".Transformer")),
                       None) if isinstance(entries, list) else None
    if transformer is None:
        raise FlipInputError(f"model {model!r}: {modules} names no Transformer module to read layers from")
    sub = folder / transformer.get("path", "")
    config = sub / "sentence_bert_config.json"
    limit = read_json_object(config, "sentence-transformers config").get("max_seq_length") if config.is_file() else None
    return str(sub), limit


def pad_ids(batch: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Token ids of one batch → right-padded ``input_ids`` and ``attention_mask``, ``(b, longest)`` int64."""
    width = max(map(len, batch))
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def pool_text_batches(
    model: torch.nn.Module, seqs: list[list[int]], pad_id: int, wanted: dict[str, int], batch_size: int, max_tokens: int | None, device: torch.device,
    on_batch: Callable[[tuple[torch.Tensor, ...]], None] | None = None,
) -> dict[str, np.ndarray]:
    """Pool the hidden states of token sequences, one forward pass per batch.

    Args:
        model: a transformers encoder taking ``input_ids``, ``attention_mask`` and
            ``output_hidden_states`` and returning ``hidden_states`` (``(n, T, d)`` each).
        seqs: token ids per row (special tokens included), length ``n``.
        pad_id: the tokenizer's padding id (:func:`pad_ids`).
        wanted: layer name → index into ``hidden_states``.
        batch_size, max_tokens: most rows, and most ``rows × longest`` tokens, per batch.
        device: where the batch runs.
        on_batch: called with ``hidden_states`` after each forward pass.

    Returns:
        ``{name: float32 (n, d)}`` in input order.
    """
    out: dict[str, np.ndarray] = {}
    for batch in length_sorted_batches([len(s) for s in seqs], batch_size, max_tokens):
        inputs = {k: v.to(device) for k, v in pad_ids([seqs[i] for i in batch], pad_id).items()}
        hidden = model(**inputs, output_hidden_states=True, return_dict=True).hidden_states
        if on_batch is not None:
            on_batch(hidden)
        pooled = to_numpy({name: masked_mean(hidden[index], inputs["attention_mask"]) for name, index in wanted.items()})
        for name, block in pooled.items():
            out.setdefault(name, np.zeros((len(seqs), block.shape[1]), dtype=np.float32))[batch] = block
        advance(len(batch))  # the stage's progress bar, if one is open
    return out


def _layer_stack(model: torch.nn.Module, num_layers: int) -> torch.nn.ModuleList | None:
    """The ``ModuleList`` of ``model``'s ``num_layers`` encoder layers (e.g. BERT's ``encoder.layer``)."""
    stacks = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == num_layers]
    return stacks[0] if stacks else None


class TransformersLayers:
    """A transformers text encoder's input embeddings and every layer, mean-pooled.

    Args:
        name: config name (``encoders.<name>``).
        model: hub id, local folder or ``package:<module>`` of a transformers model.
        device: torch device.
        batch_size: most texts per batch.
        max_tokens: most padded tokens per batch (default: :data:`CPU_MAX_TOKENS` on CPU, none on GPU).
        precision: ``fp32``, ``fp16`` or ``bf16`` weights (outputs are float32).
        revision: hub revision.
        max_seq_len: truncate to this many tokens (default: the tokenizer's limit, capped by
            the model's positions).
        family: the config family, for messages and provenance.
    """

    def __init__(self, name: str, model: str, device: str | torch.device = "cpu", batch_size: int = 64,
                 max_tokens: int | None = None, precision: str = "fp32", revision: str | None = None,
                 max_seq_len: int | None = None, family: str = "transformers"):
        model_dtype(name, precision)  # checked before the model loads
        self.name, self.model_id, self.family, self.revision = name, model, family, revision
        self.files = PretrainedFiles(model, revision)
        self.path = self.files.path
        self.device = torch.device(device)
        self.batch_size, self.max_tokens = batch_size, cpu_token_budget(max_tokens, self.device, CPU_MAX_TOKENS)
        self.precision, self.max_seq_len = precision, max_seq_len
        self._model = None
        self._final_norm: bool | None = None  # measured on the first batch

    def config(self):
        return self.files.config

    def _load(self):
        if self._model is None:
            from transformers import AutoModel

            log.info("loading %s on %s (%s)", self.model_id, self.device, self.precision)
            self._model = self.files.load(AutoModel, dtype=model_dtype(self.name, self.precision))
            self._model.to(self.device).eval()
        return self._model, self.files.tokenizer

    def check_view(self, view: str) -> None:
        if view_modality(view) != "text":
            raise FlipInputError(f"encoder {self.name!r} ({self.family}) encodes text views only, not {view!r}")

    def layer_names(self, view: str) -> list[str]:
        self.check_view(view)
        return stack_names(self.config().num_hidden_layers)

    def layer_norm(self, view: str, layer: str) -> str:
        if self._final_norm is None:
            raise RuntimeError("layer_norm is known after the first batch has been encoded")
        if not self._final_norm:
            return "none"
        return "after" if layer == self.layer_names(view)[-1] else "before"

    def _max_length(self, tokenizer) -> int | None:
        limits = [self.max_seq_len, getattr(self.config(), "max_position_embeddings", None)]
        if tokenizer.model_max_length < 1_000_000:  # transformers' "no limit" is a huge sentinel
            limits.append(tokenizer.model_max_length)
        limits = [x for x in limits if x]
        return min(limits) if limits else None

    def _final_norm_probe(self, model: torch.nn.Module, num_layers: int):
        """``(on_batch, handle)``: a hook on the last layer module, and a callback that sets
        ``_final_norm`` on the first batch (``hidden_states[-1]`` is not that module's own
        output: a final norm was applied) and removes the hook; ``(None, None)`` once known."""
        if self._final_norm is not None:
            return None, None
        stack = _layer_stack(model, num_layers)
        if stack is None:
            raise FlipInputError(f"encoder {self.name!r}: cannot find the {num_layers} layers of {self.model_id!r}")
        seen: list[torch.Tensor] = []
        handle = stack[-1].register_forward_hook(lambda m, a, out: seen.append(out[0] if isinstance(out, tuple) else out))

        def on_batch(hidden: tuple[torch.Tensor, ...]) -> None:
            if self._final_norm is None:
                self._final_norm = not torch.equal(seen[0], hidden[-1])
                handle.remove()

        return on_batch, handle

    def encode_layers(self, ids: list[str], inputs: list[str], view: str, layers: list[str]) -> dict[str, np.ndarray]:
        """``{layer: float32 (n, d)}`` in input order, one forward pass per batch."""
        self.check_view(view)
        model, tokenizer = self._load()
        index = {name: i for i, name in enumerate(self.layer_names(view))}
        limit = self._max_length(tokenizer)
        seqs = tokenizer(list(inputs), truncation=limit is not None, max_length=limit,
                         padding=False)["input_ids"] if inputs else []

        on_batch, handle = self._final_norm_probe(model, len(index) - 1)
        try:
            with torch.inference_mode():
                return pool_text_batches(model, seqs, tokenizer.pad_token_id or 0, {name: index[name] for name in layers}, self.batch_size,
                                         self.max_tokens, self.device, on_batch)
        finally:
            if handle is not None:
                handle.remove()

    def provenance(self) -> dict[str, str]:
        return self.files.provenance(self.precision, "transformers output_hidden_states")
