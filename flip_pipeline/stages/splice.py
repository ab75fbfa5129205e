"""The splice stage: a SpLiCE model (paper §3.4) for one run — no training objective.

The "model" is the concept dictionary embedded by the run's encoder (concepts as text of
the vocabulary's language) plus the centring mean of each training view
(:mod:`flip_pipeline.probes.splice`).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from flip_pipeline.device import pick_device
from flip_pipeline.formats.shards import ViewEmbeddings, expected_fingerprint
from flip_pipeline.formats.vocabulary import ConceptVocabulary
from flip_pipeline.models import build_encoder
from flip_pipeline.probes.splice import SpliceSettings, build_splice_model
from flip_pipeline.progress import count, stage_done
from flip_pipeline.settings import require_keys

log = logging.getLogger(__name__)


def splice_stage(spec: dict[str, Any], encoder_spec: dict[str, Any], vocab_dir: str | os.PathLike[str],
                 train_dirs: list[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
                 device: str = "auto") -> None:
    """Build the SpLiCE run ``spec`` (its ``training`` holds the solver settings) into ``out_dir``.

    Args:
        spec: the run (:meth:`flip_pipeline.config.runs.Run.spec`).
        encoder_spec: ``encoders.<name>`` of the run's encoder, which embeds the concepts.
        vocab_dir: a concept vocabulary.
        train_dirs: the training views' embeddings (one centring mean each).
        out_dir: ``models/{experiment}/{run}``.
        device: ``auto``, ``cpu`` or ``cuda[:i]``.
    """
    started = time.perf_counter()
    require_keys(spec, ("experiment", "run", "encoder", "vocab", "target_view"), "--spec (a SpLiCE run)")
    settings = SpliceSettings.from_dict(spec.get("training", {}), f"experiments.{spec['experiment']}.splice")
    device = str(pick_device(device))
    concepts = ConceptVocabulary.load(vocab_dir).concepts
    opened = [ViewEmbeddings(folder) for folder in train_dirs]
    for view in opened:
        view.check_encoder(spec["encoder"], expected_fingerprint(spec["encoder"], encoder_spec), f"run {spec['run']}")
    encoder = build_encoder(spec["encoder"], encoder_spec, device)
    views = {view.manifest["view"]: view.chunks() for view in opened}
    model = build_splice_model(concepts, encoder, spec["target_view"], views, device)
    model.info.update({"run": spec["run"], "vocab": spec["vocab"], "settings": settings.__dict__,
                       "encoder_spec": encoder_spec, "fingerprint": spec.get("fingerprint")})
    model.save(out_dir)
    stage_done(log, f"splice {spec['run']}", started,
               read=f"{count(len(concepts), 'concepts')} of {vocab_dir}, {count(len(opened), 'training views')}",
               wrote=str(out_dir))
