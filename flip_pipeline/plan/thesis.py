"""What the layer-wise family of the config (``thesis``, seed 002) builds, and from what.

The ``thesis`` section names languages (each a corpus, usually FLEURS, with its resource
level), models (``encoders.<name>`` entries whose layers are read) and the settings of the
similarity and t-SNE stages. A :class:`ThesisPlan` turns it into every file the rules need:
the per-layer views to extract, the shared dimensions, the similarity analyses and t-SNE
maps of each model, and the named outputs with their inputs and the spec handed to
``flip report`` (each one :class:`~flip_pipeline.plan.targets.Target`, built by the same rules as the paper's).

Named targets (figure and table numbers are the thesis's):

===================================  ======================================================
``thesis_fig5_1``                    cross-modal similarity per layer, all languages, one panel
                                     per model; below it the change from each layer to the next
                                     with its paired interval
``models.<m>.resource_figure``       cross-modal similarity per layer and resource level of model
                                     ``m`` (``thesis_fig5_2`` SeamlessM4T, ``thesis_fig5_3`` SONAR in
                                     config.yaml; default ``thesis_resource_<m>``)
``thesis_fig5_5``                    cross-lingual similarity within each modality per layer, one
                                     panel per model, and its layer-to-layer changes
``thesis_heatmap_<m>_<a>``           language × language similarity at ``heatmap_layers`` (``a``:
                                     ``text``, ``speech``, ``speech_text``; Figures A.1–A.20)
``thesis_heatmap_change_<m>_<a>``    its change between the two layers of each ``heatmap_changes``
                                     pair (Figures A.3, A.6, A.7, A.10, A.13, A.16, A.17, A.20)
``thesis_tsne_<m>_<layer>``          the t-SNE map of one layer, speech and text together
                                     (Figures A.32–A.41; a speech-only layer with its text partner)
``thesis_tsne_ids_<m>_<layer>``      the same map coloured by sentence id (``tsne_id_layers``;
                                     Figures A.37, A.42)
``thesis_table5_1``                  cross-modal summary: final similarity (all/high/medium/low)
                                     with chance, first-to-last and extra-stage changes with intervals
``thesis_table5_2``                  cross-lingual summary: final similarity per comparison with
                                     chance, extra-stage changes with intervals
``thesis_layer_changes``             every change from one layer to the next, with chance's change,
                                     paired interval and p-value (beyond the thesis)
``thesis_dimensions_<m>_<modality>`` cross-modal reduced dimensions per layer and language
                                     (Tables A.1–A.6)
``thesis_dimensions_cross_lingual``  the shared cross-lingual dimensions (Table A.7)
``thesis_table4_2``                  sentence counts read vs the thesis's Table 4.2
``thesis_heatmaps``, ``thesis_tsne``,  groups of the above
``thesis_dimensions``, ``thesis``
===================================  ======================================================
"""

from __future__ import annotations

import functools
from typing import Any

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats import paths
from flip_pipeline.formats.similarity_scores import ANALYSES
from flip_pipeline.models.layer_names import SPEECH_ONLY
from flip_pipeline.plan.base import ConfigPlan

#: Heatmap names (``thesis_heatmap_<m>_<name>``) of the cross-lingual analyses.
HEATMAPS = {"text": "cross_lingual_text", "speech": "cross_lingual_speech", "speech_text": "cross_lingual_speech_text"}
DEFAULT_MODALITIES = ("text", "speech")
DEFAULT_SPLIT = "test"


class ThesisPlan(ConfigPlan):
    """The layer-wise analyses of the config, empty when it has no ``thesis`` section
    (:class:`~flip_pipeline.plan.base.ConfigPlan` says the arguments)."""

    def __init__(self, config: dict[str, Any], results: str):
        super().__init__(config, results)
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

    def speech_only(self) -> set[str]:
        """Layers of the speech side only: ``adaptor`` and those ``similarity.pairs`` pairs with a text layer."""
        return set(SPEECH_ONLY) | set(self.spec.get("similarity", {}).get("pairs", {}))

    def layer_list(self, model: str, modality: str = "speech") -> list[str] | str:
        """The model's ``layers`` for one modality: ``"all"`` (default) or a list of layer names
        (for text, without the speech-only ones)."""
        layers = self.models[model].get("layers", "all")
        if layers == "all" or modality != "text":
            return layers
        return [layer for layer in layers if layer not in self.speech_only()]

    def analysis_layers(self, analysis: str, layers: list[str]) -> list[str]:
        """``layers`` that an analysis has: speech-only layers where side ``a`` is text are left out
        (a speech-text analysis names its layer pairs by the speech layer)."""
        return [layer for layer in layers if ANALYSES[analysis][0] == "speech" or layer not in self.speech_only()]

    def dimensions_file(self, model: str) -> str:
        return paths.dimensions_file(self.results, model)

    def shared_dimensions(self) -> bool:
        return self.spec.get("similarity", {}).get("cross_lingual_dimensions", "shared") == "shared"

    def similarity_inputs(self, model: str, analysis: str) -> list[str]:
        """A similarity job's inputs: the model's layer manifests, and for a cross-lingual analysis
        with shared dimensions, the model's dimensions file."""
        shared = analysis != "cross_modal" and self.shared_dimensions()
        return self.layers_manifests(model) + ([self.dimensions_file(model)] if shared else [])

    def views(self, model: str) -> list[tuple[str, str, str]]:
        """``(language, modality, view)`` of every view the model's layers are extracted for."""
        return [(lang, mod, f"{mod}_{lang}") for lang in self.model_languages(model) for mod in self.modalities(model)]

    def layers_manifests(self, model: str) -> list[str]:
        """The ``_SUCCESS`` of each of the model's extracted views (the layers rule's outputs)."""
        return [paths.layers_manifest(self.results, model, self.languages[lang]["corpus"], self.split, view)
                for lang, _, view in self.views(model)]

    def view_dirs(self, model: str) -> dict[str, dict[str, str]]:
        """``{language: {modality: layers folder}}``, the similarity and t-SNE stages' ``--views``."""
        dirs: dict[str, dict[str, str]] = {}
        for lang, mod, view in self.views(model):
            corpus = self.languages[lang]["corpus"]
            dirs.setdefault(lang, {})[mod] = paths.layers_dir(self.results, model, corpus, self.split, view)
        return dirs

    def resource_levels(self, model: str) -> dict[str, str]:
        return {lang: self.languages[lang]["resource"] for lang in self.model_languages(model)}

    def similarity_files(self, model: str) -> list[str]:
        return [paths.similarity_file(self.results, model, a) for a in self.analyses(model)]

    def tsne_layers(self, model: str) -> list[str]:
        return list(self.models[model].get("tsne_layers", ["embeddings"]))

    def tsne_files(self, model: str) -> list[str]:
        return [paths.tsne_file(self.results, model, layer) for layer in self.tsne_layers(model)]

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
            return [paths.similarity_file(self.results, m, a) for m in models for a in analyses if a in self.analyses(m)]

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
        add("thesis_layer_changes", "table", "layer_changes", sims(models, tuple(ANALYSES)))
        for m in models:
            self._model_outputs(m, add, sims)
        for m in cross_modal:
            for modality in ("speech", "text"):
                add(f"thesis_dimensions_{m}_{modality}", "table", "cross_modal_dimensions", sims([m], ("cross_modal",)),
                    modality=modality)
        lingual = [m for m in models if set(self.analyses(m)) - {"cross_modal"}]
        if lingual:
            add("thesis_dimensions_cross_lingual", "table", "cross_lingual_dimensions",
                [self.dimensions_file(m) for m in lingual], shared=self.shared_dimensions())
        counts = self.table4_2_spec()
        add("thesis_table4_2", "table", "fleurs_counts",
            [f for c in dict.fromkeys(e["corpus"] for e in counts.values())
             for f in (paths.corpus_info(self.results, c), paths.corpus_table(self.results, c, self.split))],
            languages=counts, split=self.split)
        return out

    def _model_outputs(self, m: str, add, sims) -> None:
        """One model's heatmaps, difference heatmaps and t-SNE maps."""
        model = self.models[m]
        for short, analysis in HEATMAPS.items():
            if analysis not in self.analyses(m):
                continue
            layers = self.analysis_layers(analysis, model.get("heatmap_layers", ["embeddings"]))
            if layers:
                add(f"thesis_heatmap_{m}_{short}", "figure", "heatmap", sims([m], (analysis,)), layers=layers)
            changes = [pair for pair in model.get("heatmap_changes", []) if self.analysis_layers(analysis, pair) == pair]
            if changes:
                add(f"thesis_heatmap_change_{m}_{short}", "figure", "heatmap_change", sims([m], (analysis,)),
                    changes=changes)
        for layer, path in zip(self.tsne_layers(m), self.tsne_files(m)):
            add(f"thesis_tsne_{m}_{layer}", "figure", "tsne", [path])
            if layer in model.get("tsne_id_layers", []):
                add(f"thesis_tsne_ids_{m}_{layer}", "figure", "tsne_ids", [path])

    def table4_2_spec(self) -> dict[str, dict[str, Any]]:
        """Per language analysed by any model: its corpus, FLEURS code, resource level and models."""
        spec: dict[str, dict[str, Any]] = {}
        for lang, entry in self.languages.items():
            models = [m for m in self.models if lang in self.model_languages(m)]
            if models:
                corpus = self.config.get("corpora", {}).get(entry["corpus"], {})
                spec[lang] = {"corpus": entry["corpus"], "fleurs": corpus.get("language", ""),
                              "resource": entry["resource"], "models": models}
        return spec

    def output(self, name: str) -> dict[str, Any]:
        outputs = self.outputs()
        if name not in outputs:
            raise FlipInputError(f"{name!r} is not a thesis table or figure of this config "
                                 f"(known: {', '.join(outputs) or 'none: the config has no thesis section'})")
        return outputs[name]

    def report_spec(self, name: str) -> dict[str, Any]:
        """What ``flip report`` needs beside its inputs: layout, caption, labels, options."""
        spec = {k: v for k, v in self.output(name).items() if k not in ("kind", "inputs")}
        spec["labels"] = {m: self.label(m) for m in self.models}
        spec["caption"] = CAPTIONS.get(spec["layout"], "")
        return spec

    def groups(self) -> dict[str, list[str]]:
        """The group targets: ``thesis_heatmaps``, ``thesis_tsne``, ``thesis_dimensions`` and ``thesis`` (everything)."""
        names = list(self.outputs())
        return {
            "thesis_heatmaps": [n for n in names if n.startswith("thesis_heatmap_")],
            "thesis_tsne": [n for n in names if n.startswith("thesis_tsne_")],
            "thesis_dimensions": [n for n in names if n.startswith("thesis_dimensions_")],
            "thesis": names,
        }


CAPTIONS = {
    "cross_modal": "Cross-modal similarity per layer (speech vs text of the same language, mean over languages), "
                   "with each method's chance level (independent Gaussian sets through the same procedure) dashed, "
                   "the 95th percentile of the permutation null dotted and the mean bootstrap interval shaded where "
                   "it is valid (n at least similarity.min_ratio times the dimension); below, the change from each "
                   "layer to the next with its paired bootstrap interval (x: chance's change) "
                   "(seed 002, Figure 5.1).",
    "cross_modal_by_resource": "Cross-modal SVCCA similarity per layer and language resource level, chance dashed "
                               "(seed 002, Figures 5.2-5.4).",
    "cross_lingual": "Cross-lingual similarity per layer within each modality (mean over language pairs, "
                     "same-language pairs left out), chance dashed; below, the change from each layer to the next "
                     "with its paired bootstrap interval (seed 002, Figure 5.5).",
    "heatmap": "Cross-lingual SVCCA similarity of every language pair at selected layers (seed 002, Appendix A.3).",
    "heatmap_change": "Change of the cross-lingual SVCCA similarity of every language pair between two layers "
                      "(later minus earlier; seed 002, Appendix A.3); a dot marks a cell whose paired interval "
                      "excludes 0.",
    "tsne": "t-SNE map of one layer, speech and text together: colour = language, marker = modality "
            "(seed 002, §3.3 and Appendix A.4).",
    "tsne_ids": "t-SNE map of one layer coloured by sentence id (FLEURS ids are shared by every language): "
                "points of one colour are one sentence in every language and modality (seed 002, Figures A.37, A.42).",
    "cross_modal_summary": "Cross-modal similarity at each model's last layer (all / high / medium / low resource "
                           "languages) with its chance level, and the changes from the first to the last encoder "
                           "layer and across the model's extra stage (length adaptor, pooling), each with its paired "
                           "interval and p-value (seed 002, Table 5.1).",
    "cross_lingual_summary": "Cross-lingual similarity at each model's last layer per comparison, mean over language "
                             "pairs with chance, and the change across the extra stage with its paired interval "
                             "(seed 002, Table 5.2).",
    "layer_changes": "Change of the mean similarity from each layer to the next, beside the change of its chance "
                     "level (the dimensions' own effect), with a paired bootstrap interval and p-value over "
                     "resamples of the same sentences (beyond seed 002).",
    "cross_modal_dimensions": "Reduced dimension of every cross-modal set (the share similarity.variance of it) per "
                              "layer and language (seed 002, Tables A.1-A.6).",
    "cross_lingual_dimensions": "One reduced dimension per model, layer and modality for the cross-lingual analysis, "
                                "the smallest leaving every language's set at least similarity.variance "
                                "(seed 002, Table A.7).",
    "fleurs_counts": "Sentences of each language's FLEURS split as read here beside the thesis's Table 4.2 "
                     "(split size, and unique sentences once duplicate recordings are dropped).",
}
