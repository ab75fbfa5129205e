"""Cross-references of config.yaml's ``thesis`` section (the layer-wise family, seed 002),
checked when the workflow starts, so that a grid its models cannot run fails in seconds.

Each check raises :class:`~flip_pipeline.errors.FlipInputError` with one line naming the
config key: a language's corpus, a model that is no layer encoder, a language the model
cannot take in a modality (its own language list, :mod:`flip_pipeline.models`),
a layer name the model's family does not have (:mod:`flip_pipeline.models.layer_names`; how many
encoder layers a model has is checked when its layers are extracted), a figure or map layer
that is not extracted, and a speech-only layer's map whose text partner is not extracted.
"""

from __future__ import annotations

from typing import Any

from flip_pipeline.config.views import corpus_views
from flip_pipeline.errors import FlipInputError
from flip_pipeline.models import LAYER_FAMILIES, view_language_problem
from flip_pipeline.models.layer_names import SPEECH_ONLY, encoder_layer_index, layer_name_problem
from flip_pipeline.similarity.analysis_settings import SimilaritySettings

#: Per-model keys naming layers: each must be extracted (``layers``) and of the family's form.
LAYER_KEYS = ("tsne_layers", "heatmap_layers", "tsne_id_layers")


def check_thesis(config: dict[str, Any], source: str) -> None:
    """Check ``config["thesis"]`` (nothing without one)."""
    thesis = config.get("thesis")
    if not thesis:
        return
    corpora, encoders = config["corpora"], config["encoders"]
    similarity = SimilaritySettings.from_dict(thesis.get("similarity"), key=f"{source}: thesis.similarity")
    for lang, spec in thesis["languages"].items():
        if spec["corpus"] not in corpora:
            raise FlipInputError(f"{source}: thesis.languages.{lang}.corpus: unknown corpus {spec['corpus']!r}")
    for name, model in thesis["models"].items():
        key = f"{source}: thesis.models.{name}"
        if name not in encoders:
            raise FlipInputError(f"{key}: unknown encoder {name!r} (the models are entries of encoders)")
        family = encoders[name].get("family")
        if family not in LAYER_FAMILIES:
            raise FlipInputError(f"{key}: encoder {name!r} has family {family!r}, which has no per-layer "
                                 f"representations (the layers stage takes {', '.join(LAYER_FAMILIES)})")
        _check_languages(thesis, name, model, encoders[name], corpora, key)
        _check_layers(model, family, similarity.pairs, key)


def _check_languages(thesis: dict[str, Any], name: str, model: dict[str, Any], encoder: dict[str, Any],
                     corpora: dict[str, Any], key: str) -> None:
    """Each of the model's languages is a thesis language whose corpus has the views, and the
    model takes it in every modality analysed."""
    for i, lang in enumerate(model.get("languages", [])):
        if lang not in thesis["languages"]:
            raise FlipInputError(f"{key}.languages[{i}]: {lang!r} is not one of thesis.languages")
    listed = "languages" in model
    for i, lang in enumerate(model.get("languages", thesis["languages"])):
        where = f"{key}.languages[{i}]" if listed else f"{key} (on every thesis.languages entry)"
        corpus = thesis["languages"][lang]["corpus"]
        for modality in model.get("modalities", ["text", "speech"]):
            view = f"{modality}_{lang}"
            if view not in corpus_views(corpora[corpus]):
                raise FlipInputError(f"{key}: corpus {corpus!r} of language {lang!r} has no view {view} "
                                     f"(views: {corpus_views(corpora[corpus])})")
            problem = view_language_problem(encoder, view, name)
            if problem is not None:
                raise FlipInputError(f"{where}: {problem}")


def _check_layers(model: dict[str, Any], family: str, pairs: dict[str, str], key: str) -> None:
    """Layer names of the family's form, each figure's and map's layers among those extracted,
    and every speech-only map layer with a text partner to be mapped with."""
    modalities = model.get("modalities", ["text", "speech"])
    layers = model.get("layers", "all")
    named = [("layers", i, layer) for i, layer in enumerate(layers if layers != "all" else [])]
    named += [(option, i, layer) for option in LAYER_KEYS for i, layer in enumerate(model.get(option, []))]
    named += [(f"heatmap_changes[{i}]", j, layer) for i, pair in enumerate(model.get("heatmap_changes", []))
              for j, layer in enumerate(pair)]
    for option, i, layer in named:
        problem = layer_name_problem(family, layer, modalities)
        if problem is not None:
            raise FlipInputError(f"{key}.{option}[{i}]: {problem}")
    for option in (*LAYER_KEYS, "heatmap_changes"):
        values = model.get(option, [])
        used = [layer for value in values for layer in (value if option == "heatmap_changes" else [value])]
        unknown = [layer for layer in dict.fromkeys(used) if layers != "all" and layer not in layers]
        if unknown:
            raise FlipInputError(f"{key}.{option}: {unknown} are not among its layers {layers}")
    missing = [layer for layer in model.get("tsne_id_layers", []) if layer not in model.get("tsne_layers", [])]
    if missing:
        raise FlipInputError(f"{key}.tsne_id_layers: {missing} are not among its tsne_layers (the maps coloured by "
                             "sentence id are drawn from those maps)")
    if "text" not in modalities or layers == "all":
        return
    for layer in model.get("tsne_layers", []):
        if layer in SPEECH_ONLY or layer in pairs:
            partner = pairs.get(layer) or max((lb for lb in layers if encoder_layer_index(lb) is not None),
                                              key=encoder_layer_index, default=None)
            if partner is None or partner not in layers:
                raise FlipInputError(f"{key}.tsne_layers: {layer!r} is a speech layer mapped with its text partner "
                                     f"({partner or 'the last encoder layer'}, as in the similarity stage), which "
                                     f"is not among its layers {layers}")
