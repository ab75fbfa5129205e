"""Reading one view's per-layer representations: ``layers/{encoder}/{corpus}/{split}/{view}/``.

The layers stage (:mod:`flip_pipeline.stages.layers`) writes one embedded view per layer
(:mod:`flip_pipeline.formats.shards`) and last the view's ``_SUCCESS``, whose ``"layers"``
lists them in model order. The similarity and t-SNE stages read views through
:func:`open_layer_view`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import input_folder, read_json_object
from flip_pipeline.formats.paths import MANIFEST
from flip_pipeline.formats.shards import ViewEmbeddings


@dataclass
class LayerView:
    """One (language, modality) view's layers.

    Attributes:
        language, modality: e.g. ``"nld"``, ``"speech"``.
        path: its ``layers_dir``.
        layers: layer names in the manifest's order.
        ids: sentence ids ``(n,)``, the same for every layer.
        row: id → row index.
    """

    language: str
    modality: str
    path: Path
    layers: list[str]
    ids: np.ndarray
    row: dict[str, int]

    @property
    def name(self) -> str:
        return f"{self.language} {self.modality} ({self.path})"

    def read(self, layer: str) -> np.ndarray:
        """One layer, every row: float32 ``(n, d)``."""
        view = ViewEmbeddings(self.path / layer)
        return view.read_rows(0, len(view))


def open_layer_view(language: str, modality: str, path: str | os.PathLike[str],
                    encoder: str | None = None) -> LayerView:
    """Read a view's ``_SUCCESS`` and every listed layer's ids; an error names a missing or
    unfinished manifest, a listed layer without its folder, layers whose ids differ, and a layer
    extracted from another model than ``encoder`` (when given: the analysis's model)."""
    path = input_folder(path, f"layers folder of {language} {modality}")
    manifest = path / MANIFEST
    if not manifest.is_file():
        raise FlipInputError(f"{manifest}: missing; the layers stage has not finished {language} {modality}")
    layers = read_json_object(manifest, "layers manifest").get("layers")
    if not isinstance(layers, list) or not layers:
        raise FlipInputError(f"{manifest}: 'layers' must be a non-empty list of layer names")
    ids = None
    for layer in layers:
        if not (path / layer).is_dir():
            raise FlipInputError(f"{manifest}: lists layer {layer!r} but {path / layer} does not exist")
        layer_view = ViewEmbeddings(path / layer)
        layer_view.check_encoder(encoder, None, f"the analysis of {encoder}")
        layer_ids = layer_view.ids
        if ids is None:
            ids = layer_ids
        elif not np.array_equal(ids, layer_ids):
            raise FlipInputError(f"{path / layer}: holds other sentence ids than {path / layers[0]}")
    return LayerView(language, modality, path, list(layers), ids, {i: r for r, i in enumerate(ids.tolist())})
