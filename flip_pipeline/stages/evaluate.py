"""The evaluate stage: keywords of a trained probe on one test view, scored against the text.

Writes ``{view}.json`` (summary: mean, std, standard error and n of every metric, plus
skip counts) and ``{view}.details.parquet`` (one row per test sentence: id, in-vocabulary
reference size ``k``, OOV types, top keywords, hits, per-sentence metrics).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from flip_pipeline.device import pick_device
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.checkpoint import load_checkpoint, resolve_checkpoint
from flip_pipeline.formats.evaluation import write_evaluation
from flip_pipeline.formats.shards import ViewEmbeddings, model_encoder
from flip_pipeline.formats.sweep_choice import selected_model_dir
from flip_pipeline.metrics import adaptive_accuracy, hit_mask, precision_recall_f1, reference_sets, summarize
from flip_pipeline.probes.lip import Probe
from flip_pipeline.probes.ranking import top_words
from flip_pipeline.probes.splice import SpliceModel, SpliceSettings
from flip_pipeline.progress import count, stage_done
from flip_pipeline.settings import TOP_N
from flip_pipeline.training.alignment import AlignedView

log = logging.getLogger(__name__)


def _ragged(values: np.ndarray, keep: np.ndarray) -> pa.ListArray:
    """The entries of ``values`` ``(n, K)`` where ``keep`` ``(n, K)`` is true, as one list per row."""
    offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values[keep]))


def _first(n: np.ndarray, width: int) -> np.ndarray:
    """``(len(n), width)`` bool: the first ``n_i`` positions of each row."""
    return np.arange(width)[None, :] < np.asarray(n)[:, None]


#: ``(embeddings (n, d), depth) -> (top, predicted)``: int ``(n, depth')`` indices ranked best
#: first and an optional bool ``(n, depth')`` mask, false where a rank is no prediction.
Ranker = Callable[[np.ndarray, int], tuple[np.ndarray, "np.ndarray | None"]]


def probe_ranker(probe: Probe, use_bias: bool = False) -> Ranker:
    """Rank words by ``E x`` (or ``E x + b``) of a LiP or FLiP (paper eq. 5)."""
    return lambda x, depth: (top_words(probe, x, depth, use_bias=use_bias), None)


def evaluate_view(
    ranker: Ranker,
    words: list[str],
    embeddings: ViewEmbeddings,
    bow: BagOfWords,
    bow_path: str,
    top_n: tuple[int, ...] = TOP_N,
) -> tuple[dict, pa.Table]:
    """Score keywords of every test sentence that has an embedding.

    Args:
        ranker: the model's ranking (:func:`probe_ranker`, or SpLiCE's concept weights).
        words: the ``W`` words (or concepts) the ranker's indices refer to.
        embeddings: the test view (``n`` rows of dimension ``d``; rows its encoder skipped
            are left out, see :mod:`flip_pipeline.training.alignment`).
        bow: counts of the reference text view, one row per corpus row.
        bow_path: file of ``bow`` for error messages.
        top_n: the ``N`` of precision/recall/F1 at top-``N``.

    Returns:
        ``(summary, details)``.

    Raises :class:`FlipInputError` naming the view when nothing is left to evaluate (every
    row skipped by the encoder, or no sentence with an in-vocabulary word).
    """
    present = AlignedView(embeddings, bow.ids, bow_path).present
    view = embeddings.manifest.get("view", str(embeddings.view_dir))
    if not present.any():
        raise FlipInputError(f"{embeddings.view_dir}: nothing to evaluate on test view {view!r}: its encoder "
                             f"skipped every one of its {len(present)} rows (listed in its manifest)")
    reference = reference_sets(bow.counts[present])
    k = np.diff(reference.indptr)
    if not (k > 0).any():
        raise FlipInputError(f"{bow_path}: nothing to evaluate on test view {view!r}: none of its {len(k)} "
                             "sentences has an in-vocabulary word")
    depth = int(max(k.max(initial=0), max(top_n)))
    top, predicted = ranker(embeddings.read_rows(0, len(embeddings)), depth)
    depth = top.shape[1]  # clipped to the vocabulary size
    mask = hit_mask(top, reference)
    if predicted is not None:
        mask &= predicted
    else:
        predicted = np.ones_like(mask)
    accuracy, evaluated = adaptive_accuracy(mask, k)

    names = np.asarray(words, dtype=object)[top]  # (n, depth) strings
    within_k = _first(np.where(evaluated, k, 0), depth)
    details = {
        "id": pa.array(embeddings.ids.astype(str)),
        "k": pa.array(k.astype(np.int32)),
        "oov_types": pa.array(bow.oov_types[present].astype(np.int32)),
        "accuracy": pa.array(accuracy),
        "keywords": _ragged(names, _first(np.full(len(k), max(top_n)), depth) & predicted),
        "top_k": _ragged(names, within_k & predicted),
        "hit_index": _ragged(top.astype(np.int32), mask & within_k),
    }
    summary = {
        "n_sentences": int(len(k)),
        "n_skipped_by_encoder": int((~present).sum()),
        "n_skipped_no_in_vocab_token": int((~evaluated).sum()),
        "k_mean": float(k[evaluated].mean()),
        "accuracy": summarize(accuracy),
    }
    for n in top_n:
        for name, values in precision_recall_f1(mask, k, n).items():
            details[f"{name}@{n}"] = pa.array(values)
            summary[f"{name}@{n}"] = summarize(values)
    return summary, pa.table(details)


def evaluate_stage(model_dir: str | os.PathLike[str], method: str, embeddings_dir: str | os.PathLike[str],
                   bow_path: str | os.PathLike[str], out: str | os.PathLike[str], use_bias: bool = False,
                   top_n: tuple[int, ...] = TOP_N, fingerprint: str | None = None, device: str = "auto") -> dict:
    """Evaluate the model in ``model_dir`` on one embedded test view; write ``out`` and its details.

    Args:
        model_dir: ``models/{experiment}/{run}`` (a swept run's loads its selected point, recorded in the
            summary as ``selected_model``), or for a probe any checkpoint folder or the hub id of a
            published one (:func:`~flip_pipeline.formats.checkpoint.resolve_checkpoint`; a local path
            wins), recorded as given in the summary's ``model``.
        method: ``probe`` (LiP/FLiP checkpoint) or ``splice`` (a SpLiCE model): the run's probe
            family, as the rules know it from the config.
        embeddings_dir: the embedded test view.
        bow_path: bag of words of the reference text of the test split.
        out: ``eval/{experiment}/{run}/{view}.json``.
        use_bias: rank probe keywords by ``E x + b`` (SpLiCE has no bias).
        top_n: the ``N`` of P/R/F1 at top-``N``.
        fingerprint: of the configuration this evaluation belongs to
            (:meth:`flip_pipeline.config.runs.Run.eval_fingerprint`), recorded in the summary so a
            report can refuse an evaluation made by another configuration.
        device: where the model ranks (``auto``: CUDA when present, ``cpu``, ``cuda[:i]``); the
            rankings are those of the CPU, up to ties and rounding of near-equal scores.

    Returns:
        the summary written.
    """
    started = time.perf_counter()
    embeddings = ViewEmbeddings(embeddings_dir)
    device_used = pick_device(device)
    if method == "splice":
        model = SpliceModel.load(model_dir, device_used)
        settings = SpliceSettings.from_dict(model.info.get("settings", {}), f"{model_dir}/config.json")
        recorded = model.info
        ranker, words = model.ranker(embeddings.manifest["view"], settings), model.concepts
        chosen, words_source = {"method": "splice"}, f"{model_dir}/concepts.json"
    elif method == "probe":
        folder = resolve_checkpoint(model_dir)  # a hub id: its folder in the hub's cache
        selected = selected_model_dir(folder)  # a swept run: the checkpoint of its selected point
        probe, vocab, recorded = load_checkpoint(selected, device_used)
        ranker, words = probe_ranker(probe, use_bias), vocab.words
        chosen, words_source = {"method": "probe", "use_bias": use_bias}, f"{selected}/vocab.json"
        if folder != Path(model_dir):  # a hub id: the snapshot it read, whose path names the commit
            chosen["checkpoint_folder"] = str(folder)
        if selected != folder:
            chosen["selected_model"] = str(selected)
    else:
        raise FlipInputError(f"{model_dir}: unknown evaluation method {method!r}; known: probe, splice")
    embeddings.check_encoder(*model_encoder(recorded), f"model {model_dir}")
    bow = BagOfWords.load(bow_path)
    bow.check_width(len(words), words_source, str(bow_path))
    summary, details = evaluate_view(ranker, words, embeddings, bow, str(bow_path),
                                     top_n=tuple(top_n))
    summary = {"model": str(model_dir), "embeddings": str(embeddings_dir), "fingerprint": fingerprint, **chosen,
               **summary}
    write_evaluation(summary, details, out)
    accuracy = summary["accuracy"]
    stage_done(log, f"evaluate {embeddings.manifest.get('view', '')}".strip(), started,
               read=f"model {model_dir}, {embeddings_dir}, {bow_path}",
               accuracy=f"{100 * accuracy['mean']:.2f}% ± {100 * accuracy['se']:.2f} (s.e.) over "
                        f"{count(summary['n_sentences'] - summary['n_skipped_no_in_vocab_token'], 'sentences')}",
               wrote=f"{out} and {Path(out).with_suffix('.details.parquet')}")
    return summary
