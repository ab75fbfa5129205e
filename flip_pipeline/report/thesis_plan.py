"""What the layer-wise family of the config (``thesis``, seed 002) builds, and from what.

The ``thesis`` section names languages (each a corpus, usually FLEURS, with its resource
level), models (``encoders.<name>`` entries whose layers are read) and the settings of the
similarity and t-SNE stages. A :class:`ThesisPlan` turns it into every file the rules need:
the per-layer views to extract, the similarity analyses and t-SNE maps of each model, and
the named targets with their inputs and the spec handed to ``flip thesis-report``.

Named targets (figure and table numbers are the thesis's):

==========================  ===============================================================
``thesis_fig5_1``           cross-modal similarity per layer, all languages, one panel per model
``models.<m>.resource_figure``  cross-modal similarity per layer and resource level of model ``m``
                            (``thesis_fig5_2`` SeamlessM4T, ``thesis_fig5_3`` SONAR, ``thesis_fig5_4``
                            SALMONN in config.yaml; default ``thesis_resource_<m>``)
``thesis_fig5_5``           cross-lingual similarity within each modality per layer, one panel per model
``thesis_heatmap_<m>_<a>``  language × language similarity at ``heatmap_layers`` (``a``: ``text``,
                            ``speech``, ``speech_text``)
``thesis_tsne_<m>_<layer>`` the t-SNE map of one layer, speech and text together
``thesis_table5_1``         cross-modal summary: final similarity (all/high/medium/low) with chance
``thesis_table5_2``         cross-lingual summary: final similarity per comparison with chance
``thesis_heatmaps``, ``thesis_tsne``, ``thesis``  groups of the above
==========================  ===============================================================
"""

from __future__ import annotations

import functools
from typing import Any

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats import layout
from flip_pipeline.formats.similarity_scores import ANALYSES

#: Heatmap names (``thesis_heatmap_<m>_<name>``) of the cross-lingual analyses.
HEATMAPS = {"text": "cross_lingual_text", "speech": "cross_lingual_speech", "speech_text": "cross_lingual_speech_text"}
DEFAULT_MODALITIES = ("text", "speech")
DEFAULT_SPLIT = "test"


class ThesisPlan:
    """The layer-wise analyses of a validated config (empty when it has no ``thesis`` section).

    Args:
        config: a validated config (:func:`flip_pipeline.config.validate_config`).
        results: the results folder.
    """

    def __init__(self, config: dict[str, Any], results: str):
        self.config = config
        self.results = results
        self.spec = config.get("thesis", {})
        self.split = self.spec.get("split", DEFAULT_SPLIT)
        self.languages: dict[str, dict[str, str]] = self.spec.get("languages", {})
        self.models: dict[str, dict[str, Any]] = self.spec.get("models", {})

    # ---- per model: languages, views, analyses -------------------------------------------
    def modalities(self, model: str) -> list[str]:
        return list(self.models[model].get("modalities", DEFAULT_MODALITIES))

    def model_languages(self, model: str) -> list[str]:
        """The languages a model is analysed on: its own ``languages`` or every one of ``thesis.languages``."""
        return list(self.models[model].get("languages", self.languages))

    def analyses(self, model: str) -> list[str]:
        """The analyses whose modalities the model has, e.g. only ``cross_lingual_text`` for a text encoder."""
        have = set(self.modalities(model))
        return [a for a, pair in ANALYSES.items() if set(pair) <= have]

    def layer_list(self, model: str) -> list[str] | str:
        """The model's ``layers``: ``"all"`` (default) or a list of layer names."""
        return self.models[model].get("layers", "all")

    def views(self, model: str) -> list[tuple[str, str, str]]:
        """``(language, modality, view)`` of every view the model's layers are extracted for."""
        return [(lang, mod, f"{mod}_{lang}") for lang in self.model_languages(model) for mod in self.modalities(model)]

    def layers_manifests(self, model: str) -> list[str]:
        """The ``_SUCCESS`` of each of the model's extracted views (the layers rule's outputs)."""
        return [layout.layers_manifest(self.results, model, self.languages[lang]["corpus"], self.split, view)
                for lang, _, view in self.views(model)]

    def view_dirs(self, model: str) -> dict[str, dict[str, str]]:
        """``{language: {modality: layers folder}}``, the similarity and t-SNE stages' ``--views``."""
        dirs: dict[str, dict[str, str]] = {}
        for lang, mod, view in self.views(model):
            corpus = self.languages[lang]["corpus"]
            dirs.setdefault(lang, {})[mod] = layout.layers_dir(self.results, model, corpus, self.split, view)
        return dirs

    def resource_levels(self, model: str) -> dict[str, str]:
        return {lang: self.languages[lang]["resource"] for lang in self.model_languages(model)}

    def similarity_files(self, model: str) -> list[str]:
        return [layout.similarity_file(self.results, model, a) for a in self.analyses(model)]

    def tsne_layers(self, model: str) -> list[str]:
        return list(self.models[model].get("tsne_layers", ["embeddings"]))

    def tsne_files(self, model: str) -> list[str]:
        return [layout.tsne_file(self.results, model, layer) for layer in self.tsne_layers(model)]

    def label(self, model: str) -> str:
        return self.models[model].get("label", model)

    # ---- named targets -------------------------------------------------------------------
    def resource_figure(self, model: str) -> str:
        return self.models[model].get("resource_figure", f"thesis_resource_{model}")

    def with_modalities(self, *needed: str) -> list[str]:
        return [m for m in self.models if set(needed) <= set(self.modalities(m))]

    @functools.cache  # noqa: B019 (one plan per workflow run; the rules ask for it per target)
    def outputs(self) -> dict[str, dict[str, Any]]:
        """Every named thesis table and figure: ``{name: {"kind", "layout", "inputs", ...options}}``
        (built once; callers must not modify it)."""
        if not self.models:
            return {}
        cross_modal = self.with_modalities("text", "speech")
        out: dict[str, dict[str, Any]] = {}

        def add(name: str, kind: str, layout_name: str, inputs: list[str], **options: Any) -> None:
            if name in out:
                raise FlipInputError(f"thesis: two outputs are named {name!r} (models.*.resource_figure)")
            out[name] = {"kind": kind, "layout": layout_name, "inputs": inputs, **options}

        def sims(models: list[str], analyses: tuple[str, ...]) -> list[str]:
            return [layout.similarity_file(self.results, m, a) for m in models for a in analyses if a in self.analyses(m)]

        if cross_modal:
            add("thesis_fig5_1", "figure", "cross_modal", sims(cross_modal, ("cross_modal",)))
            for m in cross_modal:
                add(self.resource_figure(m), "figure", "cross_modal_by_resource", sims([m], ("cross_modal",)))
            add("thesis_table5_1", "table", "cross_modal_summary", sims(cross_modal, ("cross_modal",)))
        models = list(self.models)
        same = ("cross_lingual_text", "cross_lingual_speech")
        add("thesis_fig5_5", "figure", "cross_lingual", sims(models, same))
        add("thesis_table5_2", "table", "cross_lingual_summary",
            sims(models, (*same, "cross_lingual_speech_text")))
        for m in models:
            layers = self.models[m].get("heatmap_layers", ["embeddings"])
            for short, analysis in HEATMAPS.items():
                if analysis in self.analyses(m):
                    add(f"thesis_heatmap_{m}_{short}", "figure", "heatmap", sims([m], (analysis,)), layers=layers)
            for layer, path in zip(self.tsne_layers(m), self.tsne_files(m)):
                add(f"thesis_tsne_{m}_{layer}", "figure", "tsne", [path])
        return out

    def output(self, name: str) -> dict[str, Any]:
        outputs = self.outputs()
        if name not in outputs:
            raise FlipInputError(f"{name!r} is not a thesis table or figure of this config "
                                 f"(known: {', '.join(outputs) or 'none: the config has no thesis section'})")
        return outputs[name]

    def report_spec(self, name: str) -> dict[str, Any]:
        """What ``flip thesis-report`` needs beside its inputs: layout, caption, labels, options."""
        spec = {k: v for k, v in self.output(name).items() if k not in ("kind", "inputs")}
        spec["labels"] = {m: self.label(m) for m in self.models}
        spec["caption"] = CAPTIONS.get(spec["layout"], "")
        return spec

    def files(self, name: str) -> list[str]:
        """The files of a named thesis output (``md``/``csv``/``tex`` or ``png``/``pdf``)."""
        return layout.report_files(self.results, self.output(name)["kind"], name)

    def groups(self) -> dict[str, list[str]]:
        """The group targets: ``thesis_heatmaps``, ``thesis_tsne`` and ``thesis`` (everything)."""
        names = list(self.outputs())
        return {
            "thesis_heatmaps": [n for n in names if n.startswith("thesis_heatmap_")],
            "thesis_tsne": [n for n in names if n.startswith("thesis_tsne_")],
            "thesis": names,
        }


CAPTIONS = {
    "cross_modal": "Cross-modal similarity per layer (speech vs text of the same language, mean over languages), "
                   "with each method's chance level (independent Gaussian sets through the same procedure) dashed, "
                   "the 95th percentile of the permutation null dotted and the mean bootstrap interval shaded where "
                   "it is valid (n at least similarity.min_ratio times the dimension) "
                   "(seed 002, Figure 5.1).",
    "cross_modal_by_resource": "Cross-modal SVCCA similarity per layer and language resource level, chance dashed "
                               "(seed 002, Figures 5.2-5.4).",
    "cross_lingual": "Cross-lingual similarity per layer within each modality (mean over language pairs, "
                     "same-language pairs left out), chance dashed (seed 002, Figure 5.5).",
    "heatmap": "Cross-lingual SVCCA similarity of every language pair at selected layers (seed 002, Appendix A).",
    "tsne": "t-SNE map of one layer, speech and text together: colour = language, marker = modality "
            "(seed 002, §3.3 and Appendix A.4).",
    "cross_modal_summary": "Cross-modal similarity at each model's last layer (all / high / medium / low resource "
                           "languages) with its chance level, and the change across the model's extra stage "
                           "(length adaptor, pooling) (seed 002, Table 5.1).",
    "cross_lingual_summary": "Cross-lingual similarity at each model's last layer per comparison, mean over language "
                             "pairs with chance (seed 002, Table 5.2).",
}
