"""SONAR text and speech encoders, layer by layer (sonar-space 0.5 on fairseq2 0.8).

fairseq2's forward has no argument that returns hidden states, so the layers are read
with hooks during the ordinary forward pass of :class:`~flip_pipeline.models.sonar.embed.SonarEncoder`
(same tokenizer, audio front end, length-sorted batching and bad-audio handling, reused by
subclassing its per-batch ``_run``, the model call of text and speech batches alike, and ``_store``):

* ``embeddings``: a forward hook on ``encoder_frontend`` (text: scaled token embeddings +
  sinusoidal positions; speech: the filterbank features after the frontend's layer norm
  and projection to the model width, at the subsampled frame rate);
* ``layer_01`` … ``layer_24``: ``encoder.register_layer_hook``, which sees each layer's
  output *before* the model's final layer norm (SONAR's text and speech models apply it
  after the encoder: ``model.layer_norm``), so ``layer_24`` is not the normalised
  ``encoded_seqs`` that the pooler reads;
* ``pooled``: the model's own sentence embedding (text: mean pooling of the normalised
  output; speech: attention pooling), identical to the embed stage's vector.

Every hooked layer is mean-pooled over the positions its batch layout marks as real.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import view_modality
from flip_pipeline.models.audio.bad_audio import describe
from flip_pipeline.models.layer_encoder import masked_mean, to_numpy
from flip_pipeline.models.layer_names import EMBEDDINGS, POOLED, layer_name, stack_names
from flip_pipeline.models.sonar.embed import SonarEncoder


def layout_mask(layout, seqs: torch.Tensor) -> torch.Tensor:
    """Boolean ``(n, T)`` mask of the real positions of a fairseq2 ``BatchLayout`` for ``seqs`` ``(n, T, d)``."""
    if not layout.padded:
        return torch.ones(seqs.shape[:2], dtype=torch.bool, device=seqs.device)
    return layout.position_indices >= 0


class SonarLayers(SonarEncoder):
    """:class:`SonarEncoder` whose batches also yield their pooled layers (same arguments)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._wanted: set[str] | None = None  # the layers of the current encode_layers call
        self._batch: dict[str, np.ndarray] = {}  # pooled layers of the last forward pass
        self._collected: dict[str, np.ndarray] = {}  # name -> (n, d), filled batch by batch

    # ----------------------------------------------------------------- layers
    def _model(self, view: str) -> torch.nn.Module:
        return self._text()[0] if view_modality(view) == "text" else self._speech(self.speech_card(view))

    def _num_layers(self, view: str) -> int:
        """From the injected model, else from the asset card's config (no weights loaded)."""
        if view_modality(view) == "text":
            if self._text_model is not None:
                return len(self._text_model.encoder.layers)
            from sonar.models.sonar_text import get_sonar_text_encoder_hub

            return get_sonar_text_encoder_hub().get_model_config(self.text_card).num_encoder_layers
        card = self.speech_card(view)
        if card in self._speech_models:
            return len(self._speech_models[card].encoder.layers)
        from sonar.models.sonar_speech import get_sonar_speech_encoder_hub

        return get_sonar_speech_encoder_hub().get_model_config(card).w2v2_encoder_config.num_encoder_layers

    def layer_names(self, view: str) -> list[str]:
        self.check_view(view)
        return stack_names(self._num_layers(view)) + [POOLED]

    def layer_norm(self, view: str, layer: str) -> str:
        model = self._model(view)
        final = model.layer_norm is not None or getattr(model.encoder, "layer_norm", None) is not None
        if not final:
            return "none"
        return "after" if layer == POOLED else "before"

    @contextmanager
    def _recording(self, model: torch.nn.Module, wanted: set[str]) -> Iterator[dict[str, torch.Tensor]]:
        """Hooks on ``model`` that put the pooled ``wanted`` layers of each forward pass into the yielded dict."""
        pooled: dict[str, torch.Tensor] = {}
        handles = []
        if EMBEDDINGS in wanted:
            def frontend_hook(module, args, output):
                seqs, layout = output[0], output[1]
                pooled[EMBEDDINGS] = masked_mean(seqs, layout_mask(layout, seqs))

            handles.append(model.encoder_frontend.register_forward_hook(frontend_hook))
        if any(layer_name(i + 1) in wanted for i in range(len(model.encoder.layers))):
            def layer_hook(index: int, seqs: torch.Tensor, layout, num_layers: int) -> bool:
                name = layer_name(index + 1)
                if name in wanted:
                    pooled[name] = masked_mean(seqs, layout_mask(layout, seqs))
                return True

            handles.append(model.encoder.register_layer_hook(layer_hook))
        try:
            yield pooled
        finally:
            for handle in handles:
                handle.remove()

    def _run(self, model: torch.nn.Module, padded: torch.Tensor, layout) -> np.ndarray:
        if self._wanted is None:  # a plain encode() call
            return super()._run(model, padded, layout)
        with self._recording(model, self._wanted) as pooled:
            vectors = super()._run(model, padded, layout)
        self._batch = to_numpy(pooled)
        if POOLED in self._wanted:
            self._batch[POOLED] = vectors
        return vectors

    def _store(self, out: np.ndarray, rows, vectors: np.ndarray) -> np.ndarray:
        out = super()._store(out, rows, vectors)
        if self._wanted is not None:
            for name, block in self._batch.items():
                if name not in self._collected:
                    self._collected[name] = np.zeros((len(out), block.shape[1]), dtype=np.float32)
                self._collected[name][rows] = block
        return out

    def encode_layers_skipping(self, ids: list[str], inputs: list[str], view: str,
                               layers: list[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """``({layer: float32 (m, d)}, {id: "path: reason"})`` for the ``m`` kept rows in input
        order; rows are left out only for bad audio with ``skip_bad_audio``. A layer of a
        call whose every row was left out has shape ``(0, 0)`` (its width is unknown)."""
        self._wanted, self._collected = set(layers), {}
        try:
            _, skipped = self.encode_skipping(ids, inputs, view)
            collected = self._collected
        finally:
            self._wanted, self._batch, self._collected = None, {}, {}
        keep = np.array([i not in skipped for i in ids], dtype=bool)
        return {name: collected[name][keep] if name in collected else np.zeros((0, 0), np.float32)
                for name in layers}, skipped

    def encode_layers(self, ids: list[str], inputs: list[str], view: str, layers: list[str]) -> dict[str, np.ndarray]:
        """``{layer: float32 (n, d)}`` in input order; bad audio raises even with ``skip_bad_audio``."""
        arrays, skipped = self.encode_layers_skipping(ids, inputs, view, layers)
        if skipped:
            raise FlipInputError(f"encoder {self.name!r}, view {view!r}: bad audio: {describe(skipped)}")
        return arrays

    def provenance(self) -> dict[str, str]:
        return {**super().provenance(), "layer_source": "fairseq2 frontend forward hook and encoder layer hooks"}
