"""The public Python API: probes, their top words, and a results folder read as numpy and pandas.

Load a probe from a checkpoint folder or a hub id and ask for the top words of your own
embeddings or texts; read what a run of the workflow wrote::

    import numpy as np
    import flip_pipeline as flip

    probe = flip.load_probe("results/models/quickstart/flip-r128-a0.5-minilm-text_en+text_de")
    probe.top_words(np.random.randn(2, probe.dim).astype("float32"), k=5)   # [[word, ...], [word, ...]]
    probe.keywords(["The old farmer buys three red apples."], k=5)           # embedded by its encoder
    ids, x = flip.read_embeddings("results", "minilm", "sample", "test", "text_en")   # (n,), (n, d)
    flip.read_table("results", "quickstart")                                  # the table's tidy CSV

Everything here calls the functions the stages use (:func:`~flip_pipeline.formats.checkpoint.load_checkpoint`,
:func:`~flip_pipeline.probes.ranking.top_words`, the readers of :mod:`flip_pipeline.formats`), with paths from
:mod:`flip_pipeline.formats.paths`; bad input raises :class:`~flip_pipeline.errors.FlipInputError`
with the one-line message the command line prints.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flip_pipeline.device import pick_device
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import input_file, read_json_object
from flip_pipeline.formats import paths
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.checkpoint import load_checkpoint, resolve_checkpoint
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.formats.vocabulary import Vocabulary
from flip_pipeline.probes.lip import Probe
from flip_pipeline.probes.ranking import top_words
from flip_pipeline.stages.keywords import keywords_stage

__all__ = ["FlipInputError", "LoadedProbe", "load_probe", "read_bow", "read_embeddings", "read_evaluation",
           "read_table"]

PathLike = str | os.PathLike[str]


@dataclass
class LoadedProbe:
    """A LiP or FLiP checkpoint, loaded (:func:`load_probe`).

    Attributes:
        model: what it was loaded from, a folder or a hub id (``owner/name[/subfolder][@revision]``).
        folder: the checkpoint folder read (for a hub id, its snapshot in the hub cache).
        probe: the torch module, on ``device``; ``probe.logits(x)`` scores ``(n, d)`` → ``(n, W)``.
        vocabulary: its words, ``vocabulary.words[i]`` the word of row ``i`` of ``E``.
        config: the checkpoint's ``config.json`` (the encoder it was trained on, its settings).
        device: the device it ranks on (``"auto"``: CUDA when present).
    """

    model: str
    folder: Path
    probe: Probe
    vocabulary: Vocabulary
    config: dict[str, Any]
    device: str

    @property
    def dim(self) -> int:
        """``d``, the embedding dimension it reads."""
        return self.probe.dim

    @property
    def words(self) -> list[str]:
        """The ``W`` words it ranks, in row order."""
        return self.vocabulary.words

    def top_words(self, embeddings: np.ndarray, k: int = 10, use_bias: bool = False) -> list[list[str]]:
        """The ``k`` best words of each embedding, best first.

        Args:
            embeddings: float ``(n, d)`` (a single ``(d,)`` vector is one row), from the encoder the
                probe was trained on (``config["encoder"]``); nothing checks that here.
            k: words per row (1 or more; at most the vocabulary).
            use_bias: rank by ``E x + b`` instead of ``E x`` (the paper ranks without the bias).
        """
        x = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise FlipInputError(f"embeddings of shape {np.shape(embeddings)}: {self.model} needs (n, {self.dim})")
        if k < 1:
            raise FlipInputError(f"k must be 1 or more, not {k}")
        return [[self.words[i] for i in row] for row in top_words(self.probe, x, k, use_bias=use_bias)]

    def keywords(self, texts: list[str], k: int = 10, view: str | None = None, use_bias: bool = False) -> list[list[str]]:
        """The ``k`` best words of each text, embedded by the checkpoint's own encoder (as ``flip keywords
        --text``; a published checkpoint records none: embed the texts yourself and use :meth:`top_words`).

        Args:
            texts: sentences, none empty.
            view: their language as a text view (``text_de``); default the view the probe was trained for.
        """
        found = keywords_stage(self.model, list(texts), None, k, use_bias, view, self.device)
        return [words for _, words in found]


def load_probe(model: PathLike, device: str = "auto") -> LoadedProbe:
    """Load a LiP or FLiP checkpoint: a folder (``results/models/{experiment}/{run}``, a swept run's
    folder loading its selected point, or a published FLiP folder) or a hub id
    (``BUT-FIT/FLiP-en-sonar/mcv15/rank-512[@revision]``, fetched into the hub cache on first use, read
    from there with ``HF_HUB_OFFLINE=1``). ``device``: ``auto``, ``cpu``, ``cuda[:i]``."""
    folder = resolve_checkpoint(model)
    probe, vocabulary, config = load_checkpoint(folder, pick_device(device, key="device", log_level=logging.DEBUG))
    return LoadedProbe(str(model), folder, probe, vocabulary, config, device)


def read_embeddings(results: PathLike, encoder: str, corpus: str, split: str, view: str
                    ) -> tuple[np.ndarray, np.ndarray]:
    """One embedded view of a results folder, ``embeddings/{encoder}/{corpus}/{split}/{view}``:
    ``(ids (n,) object array of str, embeddings float32 (n, d))``, in corpus order. Its provenance
    (``flip.*`` metadata) is ``ViewEmbeddings(folder).metadata``."""
    view_embeddings = ViewEmbeddings(paths.embedding_dir(results, encoder, corpus, split, view))
    return view_embeddings.ids, view_embeddings.read_rows(0, len(view_embeddings))


def read_bow(results: PathLike, vocab: str, corpus: str, split: str, view: str) -> BagOfWords:
    """A bag of words, ``bow/{vocab}/{corpus}/{split}/{view}.npz``: ``.ids`` (n,), ``.counts`` CSR
    ``(n, W)`` (columns: the words of ``vocab/{vocab}/vocab.json``), ``.oov_types`` (n,)."""
    return BagOfWords.load(paths.bow_file(results, vocab, corpus, split, view))


def read_evaluation(results: PathLike, experiment: str, run: str, view: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """One run's evaluation on one test view: ``(summary, details)``, the summary JSON
    (``eval/{experiment}/{run}/{view}.json``: every metric's mean, std, se, n as fractions) and one
    row per test sentence (``{view}.details.parquet``: id, k, accuracy, top_k words, …)."""
    summary = read_json_object(paths.eval_summary(results, experiment, run, view), "evaluation summary")
    details = pd.read_parquet(input_file(paths.eval_details(results, experiment, run, view), "evaluation details"))
    return summary, details


def read_table(results: PathLike, name: str) -> pd.DataFrame:
    """A results table by its name in the config (``tables.<name>``, ``quickstart``): its tidy CSV,
    ``tables/{name}.csv``, one row per run and test view (means, standard errors, differences)."""
    return pd.read_csv(input_file(paths.report_file(results, "table", name, "csv"), f"table {name!r}"))
