"""The similarity stage: the thesis's layer-wise cross-modal and cross-lingual analyses (§3.1–3.2).

Input: per language, the layer representations of its text and/or speech view, each a
folder ``layers/{encoder}/{corpus}/{split}/{view}`` (:func:`~flip_pipeline.formats.layout.layers_dir`)
with one embedded view per layer and a ``_SUCCESS`` whose ``"layers"`` lists them in order.
Rows are FLEURS sentence ids, so languages meet on shared ids.

Analyses (side ``a`` first in every record):

* ``cross_modal``: per language, its speech (``a``) against its text (``b``) on the ids
  both hold; every language cut to the size of the smallest, keeping the *first* ``N``
  rows in view order, as the thesis does ("only leaving the first N input data behind",
  §3.1; "the first 251 representations", §4.2).
* ``cross_lingual_text`` / ``cross_lingual_speech``: every language pair once (the upper
  triangle, languages sorted), text–text or speech–speech, on the ids both hold in ``a``'s
  order; every intersection cut to the first ``N`` of the smallest (§3.2).
* ``cross_lingual_speech_text``: speech of ``a`` against text of ``b`` for every ordered
  pair, the same-language cells included (the report's averages leave them out, :func:`flip_pipeline.report.thesis_results.per_layer`).

Layer pairing (§4.1, §5.1.2): layers of equal name are compared. A layer on one side only
takes its partner from ``settings.pairs`` (speech layer → text layer); without one,
SeamlessM4T's ``adaptor`` (speech after the length adaptor) is compared with the other
side's last encoder layer (the highest ``layer_NN``), as the thesis compares "the text
representations of the last encoder layer and the speech representations after the length
adaptor". SONAR's ``pooled`` is on both sides and pairs by name. Any other layer without a
partner is an error naming it.

Output: one tidy Parquet row per (layer pair, language pair, method), columns
:data:`~flip_pipeline.formats.similarity_scores.COLUMNS`, written atomically; the settings,
encoder, analysis and input folders are recorded in the schema metadata (``flip.settings`` etc.).
"""

from __future__ import annotations

import logging
import os
import re
import time
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.layer_views import LayerView, open_layer_view
from flip_pipeline.formats.similarity_scores import ANALYSES, COLUMNS, write_scores
from flip_pipeline.progress import count, progress, stage_done
from flip_pipeline.similarity.compare import ChanceCache, compare
from flip_pipeline.similarity.settings import SimilaritySettings

log = logging.getLogger("flip.similarity")

ENCODER_LAYER = re.compile(r"layer_(\d+)")
ADAPTOR = "adaptor"


def layer_pairs(layers_a: list[str], layers_b: list[str], pairs: dict[str, str], name_a: str,
                name_b: str) -> list[tuple[str, str]]:
    """Which layer of side ``a`` is compared with which of side ``b`` (see the module), in
    ``a``'s order; every layer of either side takes part, else an error naming it."""
    out = []
    for layer in layers_a:
        partner = pairs.get(layer, layer if layer in layers_b else None)
        if partner is None and layer == ADAPTOR:
            encoder = [lb for lb in layers_b if ENCODER_LAYER.fullmatch(lb)]
            partner = max(encoder, key=lambda lb: int(ENCODER_LAYER.fullmatch(lb).group(1)), default=None)
        if partner is None or partner not in layers_b:
            raise FlipInputError(f"layer {partner or layer!r} is missing on one side: {name_b} has layers "
                                 f"{', '.join(layers_b)}, {name_a} has {layer!r} (give its partner in "
                                 "settings.pairs)")
        out.append((layer, partner))
    unused = [lb for lb in layers_b if lb not in {p for _, p in out}]
    if unused:
        raise FlipInputError(f"layer {unused[0]!r} is missing on one side: {name_b} has it, {name_a} has layers "
                             f"{', '.join(layers_a)}")
    return out


def _comparisons(analysis: str, views: dict[tuple[str, str], LayerView]) -> list[tuple[LayerView, LayerView]]:
    mod_a, mod_b = ANALYSES[analysis]
    languages = sorted({lang for lang, _ in views})
    if analysis == "cross_modal":
        return [(views[lang, mod_a], views[lang, mod_b]) for lang in languages]
    if mod_a == mod_b:
        return [(views[la, mod_a], views[lb, mod_b]) for la, lb in combinations(languages, 2)]
    return [(views[la, mod_a], views[lb, mod_b]) for la in languages for lb in languages]


def _shared_ids(comparisons: list[tuple[LayerView, LayerView]], cap: int | None) -> tuple[list[list[str]], int]:
    """Per comparison, the ids both sides hold in ``a``'s order, all cut to the first ``N`` of
    the smallest (and of ``cap``); an empty intersection is an error naming both."""
    shared = []
    for a, b in comparisons:
        ids = [i for i in a.ids.tolist() if i in b.row]
        if not ids:
            raise FlipInputError(f"{a.name} and {b.name} share no sentence ids; compare views of one corpus split")
        shared.append(ids)
    n = min(len(ids) for ids in shared)
    n = n if cap is None else min(n, cap)
    return [ids[:n] for ids in shared], n


def similarity_analysis(encoder: str, analysis: str, views: dict[str, dict[str, str]],
                        resource_levels: dict[str, str], settings: dict[str, Any] | None,
                        out_path: str | os.PathLike[str]) -> pd.DataFrame:
    """Run one analysis of one encoder and write its scores.

    Args:
        encoder: encoder name (recorded).
        analysis: one of :data:`ANALYSES`.
        views: language → ``{"text": layers_dir, "speech": layers_dir}`` (only the modalities
            the analysis uses are needed).
        resource_levels: language → resource level (``high``/``medium``/``low``); every
            language needs one.
        settings: see :mod:`flip_pipeline.similarity.settings` (errors name ``settings.<key>``).
        out_path: the Parquet file (``similarity_file(R, encoder, analysis)``).

    Returns:
        The scores, columns :data:`COLUMNS`, one row per layer pair, language pair and method.
    """
    started = time.perf_counter()
    if analysis not in ANALYSES:
        raise FlipInputError(f"analysis {analysis!r}: must be one of {', '.join(ANALYSES)}")
    config = SimilaritySettings.from_dict(settings)
    needed = sorted(set(ANALYSES[analysis]))
    if len(views) < (1 if analysis in ("cross_modal", "cross_lingual_speech_text") else 2):
        raise FlipInputError(f"views: {analysis} needs {'one language' if analysis == 'cross_modal' else 'two'} "
                             f"or more, got {len(views)}")
    opened = {}
    for language, paths in sorted(views.items()):
        if language not in resource_levels:
            raise FlipInputError(f"resource_levels: no resource level for language {language!r}")
        for modality in needed:
            if modality not in paths:
                raise FlipInputError(f"views.{language}: no {modality!r} view; {analysis} compares {' and '.join(needed)}")
            opened[language, modality] = open_layer_view(language, modality, paths[modality], encoder)
    comparisons = _comparisons(analysis, opened)
    shared, n = _shared_ids(comparisons, config.n)
    first_a, first_b = comparisons[0]
    for a, b in comparisons:  # one layer list per modality
        for view, first in ((a, first_a), (b, first_b)):
            if view.layers != first.layers:
                missing = sorted(set(first.layers) ^ set(view.layers))
                raise FlipInputError(f"layer {missing[0]!r} is missing on one side: {view.name} has layers "
                                     f"{', '.join(view.layers)}, {first.name} has {', '.join(first.layers)}")
    pairing = layer_pairs(first_a.layers, first_b.layers, config.pairs if first_a.modality != first_b.modality else {},
                          first_a.name, first_b.name)
    log.info("%s %s: %d comparisons × %d layer pairs, n = %d", encoder, analysis, len(comparisons), len(pairing), n)
    cache, records = ChanceCache(), []
    with progress(len(comparisons) * len(pairing), "comparisons", f"similarity {encoder} {analysis}", log) as bar:
        for layer_a, layer_b in pairing:
            loaded: dict[tuple[str, str, str], np.ndarray] = {}  # this layer pair's sets, each read once

            def rows(view: LayerView, layer: str, ids: list[str]) -> np.ndarray:
                key = (view.language, view.modality, layer)
                if key not in loaded:
                    loaded[key] = view.read(layer)
                return loaded[key][[view.row[i] for i in ids]]

            for (a, b), ids in zip(comparisons, shared):
                for record in compare(rows(a, layer_a, ids), rows(b, layer_b, ids), config,
                                      f"{a.language} {a.modality} {layer_a}", f"{b.language} {b.modality} {layer_b}",
                                      chance_cache=cache):
                    records.append({"encoder": encoder, "analysis": analysis, "layer_a": layer_a, "layer_b": layer_b,
                                    "language_a": a.language, "modality_a": a.modality, "language_b": b.language,
                                    "modality_b": b.modality, "resource_a": resource_levels[a.language],
                                    "resource_b": resource_levels[b.language], **record})
                bar.advance()
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    write_scores(frame, out_path, {"encoder": encoder, "analysis": analysis, "settings": config.as_dict(),
                             "views": {lang: dict(paths) for lang, paths in views.items()},
                             "resource_levels": dict(resource_levels)})
    stage_done(log, f"similarity {encoder} {analysis}", started,
            read=f"{count(len(opened), 'layer views')} ({', '.join(sorted(views))}), n {n} sentences each",
            wrote=f"{out_path} ({count(len(frame), 'scores')}: {count(len(comparisons), 'comparisons')} x "
                  f"{count(len(pairing), 'layer pairs')} x methods)")
    return frame
