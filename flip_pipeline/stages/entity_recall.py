"""The entity-recall stage (paper §3.3, §4.6): strict and partial recall of tagged named
entities among a probe's top-``k`` words, ranked without and with the bias.

Output JSON (recall as fractions 0..1, like the evaluation summaries)::

    {"ks": [1, 5, ...], "n_sentences": S, "n_entities": E, "n_oov_entities": ...,
     "n_oov_tokens": ..., "labels": [...] | null,
     "without_bias": {"strict": [{"mean", "std", "se", "n"} per k], "partial": [...]},
     "with_bias": {...}}

``n_sentences`` counts test sentences with at least one entity, ``n_entities`` their
entities; ``n_oov_entities`` of those have no in-vocabulary token and are not scored
(``n`` of each point is ``E`` minus them).
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from flip_pipeline.atomic import write_json
from flip_pipeline.device import pick_device
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.checkpoint import load_checkpoint, resolve_checkpoint
from flip_pipeline.formats.entities import read_entities
from flip_pipeline.formats.shards import ViewEmbeddings, model_encoder
from flip_pipeline.metrics import entity_recall, entity_reference, sentence_means, summarize
from flip_pipeline.probes.ranking import top_words
from flip_pipeline.progress import count, stage_done
from flip_pipeline.settings import ENTITY_AVERAGE

log = logging.getLogger("flip.entity_recall")

def _check_ks(ks: list[int], vocab_size: int, model_dir: str | os.PathLike[str]) -> list[int]:
    """``ks`` as ints, each between 1 and the vocabulary size ``W``."""
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1 or max(ks) > vocab_size:
        raise FlipInputError(f"entity recall ks {ks}: each k must be between 1 and the {vocab_size} words "
                             f"of {model_dir}")
    return ks


def entity_rows(entity_ids: list[str], embedding_ids: np.ndarray, entities_path: str | os.PathLike[str],
                embeddings_dir: str | os.PathLike[str]) -> np.ndarray:
    """``(len(entity_ids),)`` int64 row of every entity-file id in the embeddings; ids must be a subset."""
    row_of = {str(i): row for row, i in enumerate(embedding_ids)}
    missing = [i for i in entity_ids if i not in row_of]
    if missing:
        raise FlipInputError(f"{entities_path}: {len(missing)} ids are not in the embeddings {embeddings_dir} "
                             f"(first: {missing[0]!r})")
    return np.array([row_of[i] for i in entity_ids], dtype=np.int64)


def recall_summaries(top: np.ndarray, sentence: np.ndarray, tokens, ks: list[int],
                     average: str = ENTITY_AVERAGE) -> dict[str, list[dict]]:
    """``{"strict": [...], "partial": [...]}``: :func:`summarize` of each ``k``'s recall (fractions),
    over entities, or over sentences of each sentence's mean over its entities (``average``)."""
    recall = entity_recall(top, sentence, tokens, ks)
    if average == "sentence":
        recall = {kind: sentence_means(values, sentence, int(top.shape[0])) for kind, values in recall.items()}
    elif average != "entity":
        raise FlipInputError(f"entity recall average {average!r}: expected 'sentence' (the published) or 'entity'")
    return {kind: [summarize(values) for values in recall[kind]] for kind in ("strict", "partial")}


def entity_recall_stage(model_dir: str | os.PathLike[str], embeddings_dir: str | os.PathLike[str],
                        entities_path: str | os.PathLike[str], ks: list[int], out_json: str | os.PathLike[str],
                        labels: list[str] | None = None, fingerprint: str | None = None,
                        average: str = ENTITY_AVERAGE, device: str = "auto") -> dict:
    """Score entity recall of a trained probe on one embedded test view and write ``out_json``.

    Args:
        model_dir: a checkpoint folder (:func:`~flip_pipeline.formats.checkpoint.load_checkpoint`) or
            the hub id of a published one (:func:`~flip_pipeline.formats.checkpoint.resolve_checkpoint`;
            a local path wins).
        embeddings_dir: the embedded test view (``n`` rows); its ids include the entity file's.
        entities_path: ``entities/{corpus}/{split}/{view}.jsonl`` of the aligned text view.
        ks: the top-``k`` depths, each at most the vocabulary size.
        out_json: where the result goes (atomically).
        labels: entity labels to keep (all when ``None``).
        fingerprint: of the configuration this result belongs to, recorded for the report's check.
        average: ``sentence`` (the published evaluation: per sentence, the mean over its
            entities, then the mean over sentences) or ``entity`` (the mean over entities).
        device: where the probe ranks (``auto``: CUDA when present, ``cpu``, ``cuda[:i]``).

    Returns:
        the JSON written.
    """
    started = time.perf_counter()
    probe, vocab, recorded = load_checkpoint(resolve_checkpoint(model_dir), pick_device(device))
    ks = _check_ks(ks, len(vocab), model_dir)
    embeddings = ViewEmbeddings(embeddings_dir)
    embeddings.check_encoder(*model_encoder(recorded), f"model {model_dir}")
    ids, entities = read_entities(entities_path, labels)
    rows = entity_rows(ids, embeddings.ids, entities_path, embeddings_dir)
    tagged = [i for i, ents in enumerate(entities) if ents]
    if not tagged:
        raise FlipInputError(f"{entities_path}: no sentence has an entity" + (f" labelled {labels}" if labels else ""))
    sentence, tokens, oov = entity_reference([entities[i] for i in tagged], vocab.tokenizer, vocab.index)
    if not np.diff(tokens.indptr).any():
        raise FlipInputError(f"{entities_path}: nothing to score: none of its {len(sentence)} entities has a token "
                             f"in the vocabulary of {model_dir}")
    x = embeddings.read_rows(0, len(embeddings))[rows[tagged]]
    result = {
        "fingerprint": fingerprint,
        "ks": ks,
        "n_sentences": len(tagged),
        "n_entities": int(len(sentence)),
        "n_oov_entities": int((np.diff(tokens.indptr) == 0).sum()),
        "n_oov_tokens": int(oov.sum()),
        "labels": sorted(labels) if labels is not None else None,
        "average": average,
    }
    for key, use_bias in (("without_bias", False), ("with_bias", True)):
        result[key] = recall_summaries(top_words(probe, x, max(ks), use_bias=use_bias), sentence, tokens, ks, average)
    write_json(out_json, result)
    stage_done(log, "entity recall", started, read=f"model {model_dir}, {embeddings_dir}, {entities_path} "
               f"({count(result['n_entities'], 'entities')} in {count(result['n_sentences'], 'sentences')})",
               wrote=str(out_json))
    return result
