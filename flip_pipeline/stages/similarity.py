"""The similarity stage: the thesis's layer-wise cross-modal and cross-lingual analyses (§3.1–3.2).

Input: per language, the layer representations of its text and/or speech view, each a
folder ``layers/{encoder}/{corpus}/{split}/{view}`` (:func:`~flip_pipeline.formats.paths.layers_dir`)
with one embedded view per layer and a ``_SUCCESS`` whose ``"layers"`` lists them in order.
Which sets each analysis compares, on which sentence ids and which layer with which, is
:mod:`flip_pipeline.similarity.sets` (side ``a`` first in every record): ``cross_modal`` (each
language's speech against its text), ``cross_lingual_text`` / ``cross_lingual_speech`` (every
language pair once), ``cross_lingual_speech_text`` (speech of ``a`` against text of ``b``, the
same-language cells included; the report's averages leave them out).

Reduction for SVCCA/PWCCA: cross-modal sets each to their own dimension at ``variance``
(§3.1); cross-lingual sets, with ``cross_lingual_dimensions: shared`` (the default, the
thesis's Table A.7), to the one dimension of their model, layer and modality
(:mod:`flip_pipeline.stages.shared_dimensions`: read from its file when given, else computed
here from the same views), or with ``per_set`` each to its own. The chance level is drawn at
the dimensions used.

Output: one tidy Parquet row per (layer pair, language pair, method), columns
:data:`~flip_pipeline.formats.similarity_scores.COLUMNS`, written atomically; the settings,
encoder, analysis, input folders and the dimensions used are recorded in the schema metadata
(``flip.settings`` etc.).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import pandas as pd

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.similarity_scores import COLUMNS, DIMENSION_SETTINGS, read_dimensions, write_scores
from flip_pipeline.progress import count, progress, stage_done
from flip_pipeline.similarity.analysis_settings import SimilaritySettings
from flip_pipeline.similarity.compare import ChanceCache, compare
from flip_pipeline.similarity.sets import LayerCache, analysis_sets, open_views
from flip_pipeline.stages.shared_dimensions import dimension_settings, dimension_table

log = logging.getLogger("flip.similarity")


def _shared_dimensions(encoder: str, analysis: str, views: dict[str, dict[str, str]], config: SimilaritySettings,
                       dimensions: str | os.PathLike[str] | None) -> tuple[dict[tuple[str, str], int] | None, str]:
    """``({(modality, layer): dim}, what was used)`` for a cross-lingual analysis with shared
    dimensions, else ``(None, "per_set")``; a dimensions file made with other settings is an error."""
    if analysis == "cross_modal" or config.cross_lingual_dimensions == "per_set":
        return None, "per_set"
    if dimensions is None:
        frame, used = dimension_table(encoder, views, config), "shared (computed here)"
    else:
        frame, recorded = read_dimensions(dimensions)
        expected = dimension_settings(config)
        differ = [key for key in DIMENSION_SETTINGS if recorded.get(key) != expected.get(key)]
        if differ:
            then = ", ".join(f"{key} {recorded.get(key)!r}" for key in differ)
            now = ", ".join(f"{key} {expected.get(key)!r}" for key in differ)
            raise FlipInputError(f"{dimensions}: computed with other settings ({then}; now {now}): rerun its job")
        used = f"shared ({dimensions})"
    return {(m, layer): int(dim) for m, layer, dim in zip(frame.modality, frame.layer, frame.dim)}, used


def similarity_stage(encoder: str, analysis: str, views: dict[str, dict[str, str]],
                        resource_levels: dict[str, str], settings: dict[str, Any] | None,
                        out_path: str | os.PathLike[str],
                        dimensions: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Run one analysis of one encoder and write its scores.

    Args:
        encoder: encoder name (recorded).
        analysis: one of :data:`~flip_pipeline.formats.similarity_scores.ANALYSES`.
        views: language → ``{"text": layers_dir, "speech": layers_dir}`` (the shared dimensions
            of a cross-lingual analysis are those of every modality given).
        resource_levels: language → resource level (``high``/``medium``/``low``); every
            language needs one.
        settings: see :mod:`flip_pipeline.similarity.analysis_settings` (errors name ``settings.<key>``).
        out_path: the Parquet file (``similarity_file(R, encoder, analysis)``).
        dimensions: the encoder's shared-dimensions file (``dimensions_file(R, encoder)``); without
            it, shared dimensions are computed here.

    Returns:
        The scores as written, columns :data:`COLUMNS`, one row per layer pair, language pair and method.
    """
    started = time.perf_counter()
    config = SimilaritySettings.from_dict(settings)
    opened = open_views(analysis, views, encoder=encoder)
    for language in views:
        if language not in resource_levels:
            raise FlipInputError(f"resource_levels: no resource level for language {language!r}")
    sets = analysis_sets(analysis, opened, config.n, config.pairs)
    shared, used = _shared_dimensions(encoder, analysis, views, config, dimensions)
    log.info("%s %s: %d comparisons × %d layer pairs, n = %d, dimensions %s", encoder, analysis,
             len(sets.comparisons), len(sets.pairing), sets.n, used)
    chance_cache, records = ChanceCache(), []
    total = len(sets.comparisons) * len(sets.pairing)
    with progress(total, "comparisons", f"similarity {encoder} {analysis}", log) as bar:
        for layer_a, layer_b in sets.pairing:
            cache = LayerCache()  # this layer pair's sets, each read once
            for (a, b), ids in zip(sets.comparisons, sets.ids):
                dims = None
                if shared is not None:
                    dims = tuple(_dimension(shared, view.modality, layer, dimensions)
                                 for view, layer in ((a, layer_a), (b, layer_b)))
                for record in compare(cache.rows(a, layer_a, ids), cache.rows(b, layer_b, ids), config,
                                      f"{a.language} {a.modality} {layer_a}", f"{b.language} {b.modality} {layer_b}",
                                      ids_a=ids, ids_b=ids, chance_cache=chance_cache, dims=dims):
                    records.append({"encoder": encoder, "analysis": analysis, "layer_a": layer_a, "layer_b": layer_b,
                                    "language_a": a.language, "modality_a": a.modality, "language_b": b.language,
                                    "modality_b": b.modality, "resource_a": resource_levels[a.language],
                                    "resource_b": resource_levels[b.language], **record})
                bar.advance()
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    write_scores(frame, out_path, {"encoder": encoder, "analysis": analysis, "settings": config.as_dict(),
                                   "views": {lang: dict(paths) for lang, paths in views.items()},
                                   "resource_levels": dict(resource_levels), "dimensions": used})
    stage_done(log, f"similarity {encoder} {analysis}", started,
               read=f"{count(len(opened), 'layer views')} ({', '.join(sorted(views))}), n {sets.n} sentences each",
               wrote=f"{out_path} ({count(len(frame), 'scores')}: {count(len(sets.comparisons), 'comparisons')} x "
                     f"{count(len(sets.pairing), 'layer pairs')} x methods; dimensions {used})")
    return pd.read_parquet(out_path)  # as written: resamples as float32 arrays


def _dimension(shared: dict[tuple[str, str], int], modality: str, layer: str, source) -> int:
    if (modality, layer) not in shared:
        raise FlipInputError(f"{source or 'the shared dimensions'}: no dimension for {modality} {layer!r}; "
                             "rerun its job on the same layers")
    return shared[modality, layer]
