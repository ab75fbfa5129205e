"""Which sets the thesis compares (seed 002 §3.1–3.2): the comparisons of each analysis, the
sentence ids of each, and which layer of one side meets which layer of the other.

Views are the per-layer folders of the layers stage (:mod:`flip_pipeline.formats.layer_views`),
one per (language, modality); rows are FLEURS sentence ids, so languages meet on shared ids.

* ``cross_modal``: per language, its speech (side ``a``) against its text (``b``).
* ``cross_lingual_text`` / ``cross_lingual_speech``: every language pair once (the upper
  triangle, languages sorted), text–text or speech–speech.
* ``cross_lingual_speech_text``: speech of ``a`` against text of ``b`` for every ordered pair,
  the same-language cells included.

Every comparison holds the ids both sides have, in ``a``'s order, and all are cut to the
*first* ``N`` of the smallest (the thesis: "only leaving the first N input data behind",
§3.1; "the first 251 representations", §4.2).

Layer pairing (§4.1, §5.1.2): layers of equal name meet. A layer on one side only takes its
partner from ``pairs`` (speech layer → text layer); without one, SeamlessM4T's ``adaptor``
(speech after the length adaptor) meets the other side's last encoder layer (the highest
``layer_NN``), as the thesis compares "the text representations of the last encoder layer and
the speech representations after the length adaptor", and SALMONN's ``speech_encoder`` (the
audio encoders' output before the Q-Former) meets the text's ``embeddings`` (the thesis compares
"the BEATs & Whisper speech encoder outputs and the Vicuna text embeddings", Figure A.21 (1)).
SONAR's ``pooled`` is on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.layer_views import LayerView, open_layer_view
from flip_pipeline.formats.similarity_scores import ANALYSES
from flip_pipeline.models.layer_names import ADAPTOR, EMBEDDINGS, SPEECH_ENCODER, encoder_layer_index


def layer_partner(layer: str, layers_b: list[str], pairs: dict[str, str]) -> str | None:
    """The layer of side ``b`` that ``layer`` of side ``a`` meets (see the module), or ``None``."""
    partner = pairs.get(layer, layer if layer in layers_b else None)
    if partner is None and layer == ADAPTOR:
        encoder = [lb for lb in layers_b if encoder_layer_index(lb) is not None]
        partner = max(encoder, key=encoder_layer_index, default=None)
    if partner is None and layer == SPEECH_ENCODER:
        partner = EMBEDDINGS
    return partner if partner in layers_b else None


def layer_pairs(layers_a: list[str], layers_b: list[str], pairs: dict[str, str], name_a: str,
                name_b: str) -> list[tuple[str, str]]:
    """Which layer of side ``a`` is compared with which of side ``b``, in ``a``'s order; every
    layer of either side takes part, else an error naming it."""
    out = []
    for layer in layers_a:
        partner = layer_partner(layer, layers_b, pairs)
        if partner is None:
            raise FlipInputError(f"layer {pairs.get(layer, layer)!r} is missing on one side: {name_b} has layers "
                                 f"{', '.join(layers_b)}, {name_a} has {layer!r} (give its partner in "
                                 "settings.pairs)")
        out.append((layer, partner))
    unused = [lb for lb in layers_b if lb not in {p for _, p in out}]
    if unused:
        raise FlipInputError(f"layer {unused[0]!r} is missing on one side: {name_b} has it, {name_a} has layers "
                             f"{', '.join(layers_a)}")
    return out


@dataclass
class AnalysisSets:
    """The sets one analysis compares.

    Attributes:
        analysis: one of :data:`~flip_pipeline.formats.similarity_scores.ANALYSES`.
        comparisons: ``(side a, side b)`` views, in the analysis's order.
        ids: per comparison, its ``n`` sentence ids (rows of both sides, in this order).
        n: sentences per comparison.
        pairing: ``(layer of a, layer of b)`` pairs, in ``a``'s layer order.
    """

    analysis: str
    comparisons: list[tuple[LayerView, LayerView]]
    ids: list[list[str]]
    n: int
    pairing: list[tuple[str, str]]


def open_views(analysis: str, views: dict[str, dict[str, str]],
               opened: dict[tuple[str, str], LayerView] | None = None,
               encoder: str | None = None) -> dict[tuple[str, str], LayerView]:
    """``{(language, modality): view}`` of the modalities ``analysis`` compares (taken from
    ``opened`` where it has them, else read, checked to be ``encoder``'s layers when given); an
    error names a language lacking one, or too few languages."""
    if analysis not in ANALYSES:
        raise FlipInputError(f"analysis {analysis!r}: must be one of {', '.join(ANALYSES)}")
    needed = sorted(set(ANALYSES[analysis]))
    if len(views) < (1 if analysis in ("cross_modal", "cross_lingual_speech_text") else 2):
        raise FlipInputError(f"views: {analysis} needs {'one language' if analysis == 'cross_modal' else 'two'} "
                             f"or more, got {len(views)}")
    known, out = opened or {}, {}
    for language, paths in sorted(views.items()):
        for modality in needed:
            if modality not in paths:
                raise FlipInputError(f"views.{language}: no {modality!r} view; {analysis} compares "
                                     f"{' and '.join(needed)}")
            out[language, modality] = known.get((language, modality)) or open_layer_view(language, modality,
                                                                                        paths[modality], encoder)
    return out


def analysis_sets(analysis: str, opened: dict[tuple[str, str], LayerView], cap: int | None,
                  pairs: dict[str, str]) -> AnalysisSets:
    """The comparisons of ``analysis`` among the ``opened`` views (:func:`open_views`), their ids
    cut to the first ``N`` of the smallest intersection (and of ``cap``), and the layer pairing
    (``pairs`` applies across modalities only)."""
    mod_a, mod_b = ANALYSES[analysis]
    languages = sorted({lang for lang, _ in opened})
    if analysis == "cross_modal":
        comparisons = [(opened[lang, mod_a], opened[lang, mod_b]) for lang in languages]
    elif mod_a == mod_b:
        comparisons = [(opened[la, mod_a], opened[lb, mod_b]) for la, lb in combinations(languages, 2)]
    else:
        comparisons = [(opened[la, mod_a], opened[lb, mod_b]) for la in languages for lb in languages]
    shared = []
    for a, b in comparisons:
        ids = [i for i in a.ids.tolist() if i in b.row]
        if not ids:
            raise FlipInputError(f"{a.name} and {b.name} share no sentence ids; compare views of one corpus split")
        shared.append(ids)
    n = min(len(ids) for ids in shared)
    n = n if cap is None else min(n, cap)
    first_a, first_b = comparisons[0]
    for a, b in comparisons:  # one layer list per modality
        for view, first in ((a, first_a), (b, first_b)):
            if view.layers != first.layers:
                missing = sorted(set(first.layers) ^ set(view.layers))
                raise FlipInputError(f"layer {missing[0]!r} is missing on one side: {view.name} has layers "
                                     f"{', '.join(view.layers)}, {first.name} has {', '.join(first.layers)}")
    pairing = layer_pairs(first_a.layers, first_b.layers, pairs if mod_a != mod_b else {}, first_a.name,
                          first_b.name)
    return AnalysisSets(analysis, comparisons, [ids[:n] for ids in shared], n, pairing)


class LayerCache:
    """Layer sets each read once: :meth:`rows` of a view's layer, for some of its sentence ids."""

    def __init__(self) -> None:
        self.loaded: dict[tuple[str, str, str], np.ndarray] = {}

    def rows(self, view: LayerView, layer: str, ids: list[str]) -> np.ndarray:
        """float32 ``(len(ids), d)``: the rows of ``ids`` (in that order) of ``layer`` of ``view``."""
        key = (view.language, view.modality, layer)
        if key not in self.loaded:
            self.loaded[key] = view.read(layer)
        return self.loaded[key][[view.row[i] for i in ids]]
