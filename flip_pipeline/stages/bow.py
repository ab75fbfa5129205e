"""The bow stage: count one text view of a corpus split against a vocabulary (words or concepts)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.corpus_table import read_view
from flip_pipeline.formats.vocabulary import load_vocabulary
from flip_pipeline.progress import count, stage_done

log = logging.getLogger(__name__)


def bow_stage(vocab_dir: str | os.PathLike[str], corpus_table: str | os.PathLike[str], view: str,
              out: str | os.PathLike[str]) -> None:
    """Write ``out`` (``bow/{vocab}/{corpus}/{split}/{view}.npz``): CSR counts ``(n, W)``, rows
    in corpus order; a concept vocabulary counts greedy spans. ``vocab_dir`` is a vocabulary folder
    (``settings.json`` beside ``vocab.json``) or a checkpoint's (a hub id too): its own vocabulary."""
    started = time.perf_counter()
    if (Path(vocab_dir) / "settings.json").exists():
        vocab = load_vocabulary(vocab_dir)
    else:  # imported here: a checkpoint's module loads torch, which counting against a vocabulary needs not
        from flip_pipeline.formats.checkpoint import checkpoint_vocabulary
        vocab = checkpoint_vocabulary(vocab_dir)
    ids, texts = read_view(corpus_table, view)
    counts, oov = vocab.bag_of_words(texts)
    BagOfWords(np.asarray(ids, dtype=str), counts, oov).save(out)
    stage_done(log, f"bow {view}", started, read=f"{corpus_table} ({count(len(ids), 'rows')}) and {vocab_dir}",
               wrote=f"{out} ({count(counts.shape[0])} x {count(counts.shape[1])} counts, "
                     f"{count(int(counts.nnz), 'non-zero')}; {count(int((counts.getnnz(axis=1) == 0).sum()), 'rows')} "
                     "without an in-vocabulary word)")
