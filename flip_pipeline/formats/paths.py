"""The results layout: where every artifact lives under the results folder.

One function per artifact, used by the Snakemake rules and the code alike. Every argument
is a path part, so the rules pass wildcards through: ``embedding_dir(R, "{encoder}",
"{corpus}", "{split}", "{view}")`` is the rule's output pattern.

=====================  ============================================================
artifact               path under ``results``
=====================  ============================================================
corpus table           ``corpora/{corpus}/{split}.parquet`` (+ ``info.json``)
embedded view          ``embeddings/{encoder}/{corpus}/{split}/{view}/`` (shards + ``_SUCCESS``)
pair scores            ``embeddings/{encoder}/{corpus}/{split}/sim_{viewA}__{viewB}.parquet``
vocabulary             ``vocab/{vocab}/`` (``vocab.json``, ``counts.parquet``, ``settings.json``)
bag of words           ``bow/{vocab}/{corpus}/{split}/{view}.npz``; against a fetched checkpoint's own
                       vocabulary: ``bow/models/{experiment}/{run}/{split}/{view}.npz``
model                  ``models/{experiment}/{run}/`` (probe or SpLiCE files; a swept run's
                       ``selected.json`` names the selected point, ``models/{experiment}/{point}/``;
                       a published checkpoint is copied there, ``model.safetensors`` last)
evaluation             ``eval/{experiment}/{run}/{view}.json`` + ``{view}.details.parquet``
entities               ``entities/{entities}.jsonl``
entity recall          ``entity_recall/{experiment}/{run}/{view}.{entities}.json``
layer representations  ``layers/{encoder}/{corpus}/{split}/{view}/{layer}/`` (shards + ``_SUCCESS``
                       each; the view's own ``_SUCCESS`` lists its layers, written last)
similarity scores      ``similarity/{encoder}/{analysis}.parquet`` (``analysis`` ``cross_modal``,
                       ``cross_lingual_text``, ``cross_lingual_speech``, ``cross_lingual_speech_text``)
shared dimensions      ``similarity/{encoder}/cross_lingual_dimensions.parquet`` (thesis Table A.7)
t-SNE coordinates      ``tsne/{encoder}/{layer}.parquet``
tables, figures        ``tables/{name}.{md,csv,tex,html}``, ``figures/{name}.{png,pdf}``
report job specs       ``.specs/{table,figure}/{name}.{digest}.json`` (the ``--spec`` of ``flip report``)
=====================  ============================================================
"""

from __future__ import annotations

import os
from pathlib import Path

from flip_pipeline.formats.pair_scores import sim_name

Root = str | os.PathLike[str]

MANIFEST = "_SUCCESS"  # the file that marks an embedded view complete (formats.shards)
REPORT_SUFFIXES = {"table": ("md", "csv", "tex", "html"), "figure": ("png", "pdf")}


def corpus_dir(results: Root, corpus: str) -> str:
    return f"{results}/corpora/{corpus}"


def corpus_table(results: Root, corpus: str, split: str) -> str:
    return f"{corpus_dir(results, corpus)}/{split}.parquet"


def corpus_and_split(table: str | os.PathLike[str]) -> tuple[str, str]:
    """``(corpus, split)`` of a corpus table's path, :func:`corpus_table` read backwards (its folder's
    name and its file's stem; for a table named otherwise, what its path says)."""
    path = Path(table)
    return path.parent.name, path.stem


def corpus_info(results: Root, corpus: str) -> str:
    return f"{corpus_dir(results, corpus)}/info.json"


def _view_path(results: Root, tree: str, encoder: str, corpus: str, split: str, name: str) -> str:
    """``{results}/{tree}/{encoder}/{corpus}/{split}/{name}``: where one encoder keeps one view of a
    corpus split (``tree`` ``embeddings`` or ``layers``)."""
    return f"{results}/{tree}/{encoder}/{corpus}/{split}/{name}"


def embedding_dir(results: Root, encoder: str, corpus: str, split: str, view: str) -> str:
    return _view_path(results, "embeddings", encoder, corpus, split, view)


def embedding_manifest(results: Root, encoder: str, corpus: str, split: str, view: str) -> str:
    """The file that marks an embedded view complete (written last; ``formats.shards``)."""
    return f"{embedding_dir(results, encoder, corpus, split, view)}/{MANIFEST}"


def pair_scores(results: Root, encoder: str, corpus: str, split: str, view_a: str, view_b: str) -> str:
    return _view_path(results, "embeddings", encoder, corpus, split, sim_name(view_a, view_b))


def vocab_dir(results: Root, vocab: str) -> str:
    return f"{results}/vocab/{vocab}"


def vocab_file(results: Root, vocab: str, name: str = "vocab.json") -> str:
    """``vocab.json`` (written last: marks the vocabulary complete), ``counts.parquet`` or ``settings.json``."""
    return f"{vocab_dir(results, vocab)}/{name}"


def bow_file(results: Root, vocab: str, corpus: str, split: str, view: str) -> str:
    return f"{results}/bow/{vocab}/{corpus}/{split}/{view}.npz"


def checkpoint_bow_file(results: Root, experiment: str, run: str, split: str, view: str) -> str:
    """The bag of words of ``view`` counted against the vocabulary of the fetched checkpoint of
    ``models/{experiment}/{run}`` (an experiment's ``checkpoint``: no vocabulary of ours has its columns)."""
    return f"{results}/bow/models/{experiment}/{run}/{split}/{view}.npz"


def model_dir(results: Root, experiment: str, run: str) -> str:
    return f"{results}/models/{experiment}/{run}"


SELECTION = "selected.json"  # a swept run's model: the sweep point chosen on dev (formats.sweep_choice)
MODEL_FILES = {  # the first file of each is written last: it marks the model complete
    "probe": ("model.safetensors", "config.json", "vocab.json", "train_log.jsonl"),
    "splice": ("splice.safetensors", "concepts.json", "config.json"),
    "sweep": (SELECTION,),
    "published": ("model.safetensors", "config.json", "vocab.json"),  # fetched: no training log
}


def model_files(results: Root, experiment: str, run: str, probe: str) -> list[str]:
    """Every file of a run's model, the completion marker first; ``probe`` ``lip``/``flip``, ``splice``,
    ``sweep`` (a swept run) or ``published`` (a fetched checkpoint; :attr:`flip_pipeline.config.runs.Run.model_kind`)."""
    names = MODEL_FILES[probe if probe in ("splice", "sweep", "published") else "probe"]
    return [f"{model_dir(results, experiment, run)}/{name}" for name in names]


def model_file(results: Root, experiment: str, run: str, probe: str) -> str:
    """The file that marks a run's model complete: SpLiCE writes a dictionary, LiP/FLiP a probe, a
    swept run its selection."""
    return model_files(results, experiment, run, probe)[0]


def eval_summary(results: Root, experiment: str, run: str, view: str) -> str:
    return f"{results}/eval/{experiment}/{run}/{view}.json"


def eval_details(results: Root, experiment: str, run: str, view: str) -> str:
    return f"{results}/eval/{experiment}/{run}/{view}.details.parquet"


def entities_file(results: Root, entities: str) -> str:
    return f"{results}/entities/{entities}.jsonl"


def entity_recall_file(results: Root, experiment: str, run: str, view: str, entities: str) -> str:
    return f"{results}/entity_recall/{experiment}/{run}/{view}.{entities}.json"


def layers_dir(results: Root, encoder: str, corpus: str, split: str, view: str) -> str:
    """The folder of one view's per-layer representations: one shard folder per layer."""
    return _view_path(results, "layers", encoder, corpus, split, view)


def layers_manifest(results: Root, encoder: str, corpus: str, split: str, view: str) -> str:
    """The file that marks every requested layer of a view complete (written last)."""
    return f"{layers_dir(results, encoder, corpus, split, view)}/{MANIFEST}"


def layer_dir(results: Root, encoder: str, corpus: str, split: str, view: str, layer: str) -> str:
    """One layer's shards and manifest, under the embedded-view contract of ``formats.shards``."""
    return _view_path(results, "layers", encoder, corpus, split, f"{view}/{layer}")


def similarity_file(results: Root, encoder: str, analysis: str) -> str:
    return f"{results}/similarity/{encoder}/{analysis}.parquet"


def dimensions_file(results: Root, encoder: str) -> str:
    """The one reduced dimension per modality and layer of an encoder's cross-lingual analyses."""
    return f"{results}/similarity/{encoder}/cross_lingual_dimensions.parquet"


def tsne_file(results: Root, encoder: str, layer: str) -> str:
    return f"{results}/tsne/{encoder}/{layer}.parquet"


def report_prefix(results: Root, kind: str, name: str) -> str:
    """``tables/{name}`` or ``figures/{name}`` (``kind`` ``table`` or ``figure``), without a suffix."""
    return f"{results}/{kind}s/{name}"


def report_file(results: Root, kind: str, name: str, suffix: str) -> str:
    return f"{report_prefix(results, kind, name)}.{suffix}"


def spec_file(results: Root, kind: str, name: str, digest: str) -> str:
    """The spec a report job reads (``flip report --spec @file``), named by its content's digest."""
    return f"{results}/.specs/{kind}/{name}.{digest}.json"


def report_files(results: Root, kind: str, name: str) -> list[str]:
    """Every file of a table (``md``, ``csv``, ``tex``) or figure (``png``, ``pdf``)."""
    return [report_file(results, kind, name, suffix) for suffix in REPORT_SUFFIXES[kind]]
