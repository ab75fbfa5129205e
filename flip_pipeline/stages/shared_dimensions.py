"""The shared reduced dimensions of the cross-lingual analyses (seed 002, Table A.7).

"For the cross-lingual analysis we used one target dimension for each layer and for all
languages, leaving at least 90% of the variance behind." Here: for one model, every set that
a cross-lingual analysis (text–text, speech–speech, speech–text; those the model's
modalities allow) reduces — each language's rows of each comparison it takes part in, cut as
the similarity stage cuts them (:mod:`flip_pipeline.similarity.sets`) — has its own reduced
dimension ``k`` at ``variance`` (:func:`~flip_pipeline.similarity.reduce.own_dimension`). Since
the share a set keeps grows with ``k``, the smallest dimension that leaves *every* set of one
modality and layer at least ``variance`` is the largest of their own dimensions; that is the
modality and layer's shared dimension. The similarity stage reduces every cross-lingual set
to it when ``cross_lingual_dimensions: shared`` (the default) and draws the chance level at it.

The thesis does not say which sets it took a language's variance on; these are exactly the
sets its cross-lingual SVCCA reduces. Cross-modal sets keep their own dimensions (§3.1:
"different for each modality, language and layer", Tables A.1–A.6).

Output: :data:`~flip_pipeline.formats.similarity_scores.DIMENSION_COLUMNS`, one row per
(modality, layer), written atomically with the settings that decide it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import pandas as pd

from flip_pipeline.formats.layer_views import LayerView
from flip_pipeline.formats.similarity_scores import ANALYSES, DIMENSION_COLUMNS, DIMENSION_SETTINGS, write_scores
from flip_pipeline.similarity.analysis_settings import SimilaritySettings
from flip_pipeline.similarity.reduce import own_dimension, variance_kept
from flip_pipeline.similarity.sets import LayerCache, analysis_sets, open_views

log = logging.getLogger("flip.similarity")

CROSS_LINGUAL = ("cross_lingual_text", "cross_lingual_speech", "cross_lingual_speech_text")


def cross_lingual_analyses(views: dict[str, dict[str, str]]) -> list[str]:
    """The cross-lingual analyses whose modalities every language of ``views`` has."""
    have = set.intersection(*(set(paths) for paths in views.values())) if views else set()
    return [a for a in CROSS_LINGUAL if set(ANALYSES[a]) <= have and (len(views) > 1 or a.endswith("speech_text"))]


def dimension_table(encoder: str, views: dict[str, dict[str, str]], settings: SimilaritySettings) -> pd.DataFrame:
    """The shared dimension of every modality and layer (see the module), columns
    :data:`DIMENSION_COLUMNS`, rows in modality then layer order."""
    opened: dict[tuple[str, str], LayerView] = {}
    own: dict[tuple[str, str, str, frozenset], tuple[int, np.ndarray, int]] = {}  # a set: (k, s, n)
    layer_order: dict[tuple[str, str], int] = {}
    for analysis in cross_lingual_analyses(views):
        needed = open_views(analysis, views, opened, encoder)
        opened.update(needed)
        sets = analysis_sets(analysis, needed, settings.n, settings.pairs)
        for layer_a, layer_b in sets.pairing:
            cache = LayerCache()
            for (a, b), ids in zip(sets.comparisons, sets.ids):
                for view, layer in ((a, layer_a), (b, layer_b)):
                    layer_order.setdefault((view.modality, layer), view.layers.index(layer))
                    key = (view.language, view.modality, layer, frozenset(ids))
                    if key not in own:
                        k, s = own_dimension(cache.rows(view, layer, ids), settings.variance,
                                             settings.variance_convention, f"{view.language} {view.modality} {layer}")
                        own[key] = (k, s, len(ids))
    by_layer: dict[tuple[str, str], list[tuple[int, np.ndarray, int]]] = {}
    for (_, modality, layer, _), found in own.items():
        by_layer.setdefault((modality, layer), []).append(found)
    rows = []
    for modality, layer in sorted(by_layer, key=lambda key: (key[0], layer_order[key])):
        found = by_layer[modality, layer]
        dim = max(k for k, _, _ in found)
        rows.append({"encoder": encoder, "modality": modality, "layer": layer, "dim": dim, "sets": len(found),
                     "own_min": min(k for k, _, _ in found), "own_max": dim,
                     "kept_min": min(variance_kept(s, dim, settings.variance_convention) for _, s, _ in found),
                     "n_min": min(n for _, _, n in found), "n_max": max(n for _, _, n in found)})
    return pd.DataFrame.from_records(rows, columns=list(DIMENSION_COLUMNS))


def dimension_settings(settings: SimilaritySettings) -> dict[str, Any]:
    """The settings that decide the shared dimensions (recorded with them, checked by the similarity stage)."""
    return {key: value for key, value in settings.as_dict().items() if key in DIMENSION_SETTINGS}


def shared_dimensions_stage(encoder: str, views: dict[str, dict[str, str]], settings: dict[str, Any] | None,
                            out_path: str | os.PathLike[str]) -> pd.DataFrame:
    """Compute and write an encoder's shared dimensions.

    Args:
        encoder: encoder name (recorded).
        views: language → ``{"text": layers_dir, "speech": layers_dir}``.
        settings: ``thesis.similarity`` (errors name ``settings.<key>``).
        out_path: ``similarity/{encoder}/cross_lingual_dimensions.parquet``.
    """
    config = SimilaritySettings.from_dict(settings)
    frame = dimension_table(encoder, views, config)
    log.info("%s: shared cross-lingual dimensions of %d (modality, layer) pairs", encoder, len(frame))
    write_scores(frame, out_path, {"encoder": encoder, "settings": dimension_settings(config),
                                   "views": {lang: dict(paths) for lang, paths in views.items()}})
    return frame
