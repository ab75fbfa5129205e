"""The train stage: one LiP or FLiP run of an experiment → a checkpoint in the published layout.

Reads the training views' shards and the target text's bags of words (train and dev),
applies the published ``sim_threshold`` filter to the train and the dev rows when configured
(as the published training config does to both), keeps only rows that
every weighted view embedded (bad audio), trains (:func:`flip_pipeline.training.loop.train_probe`:
the views held on the device when they fit ``training.resident_memory_gb``, else streamed)
and writes ``model.safetensors``, ``vocab.json``, ``config.json`` and ``train_log.jsonl``.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from flip_pipeline.device import pick_device
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import output_folder
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.checkpoint import save_checkpoint
from flip_pipeline.formats.pair_scores import similarity_mask
from flip_pipeline.formats.shards import ViewEmbeddings, expected_fingerprint
from flip_pipeline.formats.vocabulary import Vocabulary
from flip_pipeline.probes.objective import view_weights
from flip_pipeline.progress import count, duration, stage_done
from flip_pipeline.settings import rank_of, require_keys
from flip_pipeline.training.alignment import AlignedView
from flip_pipeline.training.batches import TrainingData
from flip_pipeline.training.loop import DevSet, TrainSettings, make_dev_set, train_probe

log = logging.getLogger(__name__)

Folder = str | os.PathLike[str]
RUN_KEYS = ("run", "probe", "rank", "alpha", "encoder", "train_views", "target_view")  # of Run.spec() used here


def _vocab_bag(path: Folder, vocab: Vocabulary, vocab_dir: Folder) -> BagOfWords:
    """The bag of words at ``path``, refused unless it has a column per word of ``vocab``."""
    bow = BagOfWords.load(path)
    bow.check_width(len(vocab), str(Path(vocab_dir) / "vocab.json"), str(path))
    return bow


def _run_views(folders: list[Folder], spec: dict[str, Any], encoder_spec: dict[str, Any]) -> list[ViewEmbeddings]:
    """The embedded views in ``folders``, each refused unless embedded by the run's encoder (and,
    when ``encoder_spec`` is given, its config)."""
    views = [ViewEmbeddings(folder) for folder in folders]
    for view in views:
        view.check_encoder(spec["encoder"], expected_fingerprint(spec["encoder"], encoder_spec), f"run {spec['run']}")
    return views


def _dev_set(dev_views: list[ViewEmbeddings], weights: list[float], dev_bow_path: Folder,
             dev_bow: BagOfWords, keep: np.ndarray | None) -> DevSet:
    """The dev views of weight > 0, restricted to rows every one of them embedded and, when given,
    to the ``keep`` mask of the ``sim_threshold`` filter; ``dev_bow`` is the bag of words read from
    ``dev_bow_path``."""
    views = [AlignedView(view, dev_bow.ids, str(dev_bow_path))
             for view, weight in zip(dev_views, weights) if weight > 0]
    present = np.logical_and.reduce([view.present for view in views])  # rows no encoder skipped
    if keep is not None:
        present = present & keep
    return make_dev_set([view.read_rows(0, len(view))[present] for view in views], dev_bow.counts[present],
                        str(dev_bow_path))


def train_stage(spec: dict[str, Any], encoder_spec: dict[str, Any], vocab_dir: Folder, train_bow: Folder,
                dev_bow: Folder, train_dirs: list[Folder], dev_dirs: list[Folder], sim: Folder | None,
                out_dir: Folder, device: str = "auto", dev_sim: Folder | None = None) -> dict:
    """Train the run ``spec`` (:meth:`flip_pipeline.config.runs.Run.spec`) and write its checkpoint to ``out_dir``.

    Args:
        spec: the run: probe, rank, alpha, train views, training settings, …
        encoder_spec: the encoder's config entry, recorded for ``flip keywords --text``.
        vocab_dir: the run's vocabulary.
        train_bow, dev_bow: bags of words of the target text view, train and dev splits.
        train_dirs, dev_dirs: one embedded view per training view, in ``spec["train_views"]`` order.
        sim, dev_sim: pair scores of the run's ``sim_views`` on the train and the dev split (both
            required when ``training.sim_threshold`` is set; the summary's ``sim_filter`` counts
            the rows each keeps).
        out_dir: ``models/{experiment}/{run}``.
        device: ``auto``, ``cpu`` or ``cuda[:i]``.

    Returns:
        the training summary (best dev recall, iterations, rows, settings).
    """
    started = time.perf_counter()
    require_keys(spec, RUN_KEYS, "--spec (a run)")
    torch_device = pick_device(device)  # a device that is not there: refused before anything is read
    weights = view_weights(spec["alpha"], len(spec["train_views"]))
    if len(train_dirs) != len(weights) or len(dev_dirs) != len(weights):
        raise FlipInputError(f"run {spec['run']}: expected {len(weights)} train and dev embedding folders")
    settings = TrainSettings.from_dict(spec.get("training", {}))
    vocab = Vocabulary.load(vocab_dir)
    bow = _vocab_bag(train_bow, vocab, vocab_dir)
    dev_bag = _vocab_bag(dev_bow, vocab, vocab_dir)
    keep = dev_keep = None
    if settings.sim_threshold is not None:
        if not sim or not dev_sim:
            raise FlipInputError(f"run {spec['run']}: training.sim_threshold is set but no "
                                 f"{'--sim' if not sim else '--dev-sim'} file was given")
        keep = similarity_mask(sim, bow.ids, settings.sim_threshold)
        dev_keep = similarity_mask(dev_sim, dev_bag.ids, settings.sim_threshold)
    train_views = _run_views(train_dirs, spec, encoder_spec)
    data = TrainingData(train_views, weights, bow, str(train_bow), keep)
    dev = _dev_set(_run_views(dev_dirs, spec, encoder_spec), weights, dev_bow, dev_bag, dev_keep)
    out = output_folder(out_dir)
    probe, result = train_probe(spec["probe"], rank_of(spec["rank"]), data, dev, settings, torch_device,
                                out / "train_log.jsonl", f"train {spec['run']}")
    if keep is not None:
        result["sim_filter"] = {
            "threshold": settings.sim_threshold,
            **{split: {"file": str(path), "kept": int(mask.sum()), "rows": len(mask)}
               for split, path, mask in (("train", sim, keep), ("dev", dev_sim, dev_keep))},
        }
    config = {**spec, "weights": weights, "dim": data.dim, "rank": getattr(probe, "rank", None),
              "encoder_spec": encoder_spec, "result": result}
    save_checkpoint(out, probe, vocab, config)
    stage_done(log, f"train {spec['run']}", started,
            read=f"{count(len(data), 'training rows')} of {', '.join(map(str, train_dirs))} and {train_bow}; "
                 f"dev {dev_bow}",
            stopped=f"after {result['iterations']} iterations ({duration(result['seconds'])}): {result['stopped']}",
            best=f"dev recall {result['best_dev_recall']:.4f} at iteration {result['best_iteration']} (kept)",
            wrote=f"checkpoint {out} (model.safetensors, vocab.json, config.json, train_log.jsonl)")
    return result
