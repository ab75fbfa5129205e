"""Checkpoints in the published FLiP layout: ``model.safetensors``, ``vocab.json``, ``config.json``.

``model.safetensors`` holds ``E1`` (W×r), ``E2`` (r×d), ``b`` (W×1) for FLiP or ``E`` (W×d),
``b`` for LiP — the key names of the BUT-FIT/FLiP-en-sonar files, which load here as
they are (keys prefixed ``_orig_mod.`` by ``torch.compile`` are accepted too).
No pickle: tensors in safetensors, everything else in JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from flip_pipeline.atomic import atomic_path, write_json
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.vocabulary import Vocabulary
from flip_pipeline.probes.lip import FLiP, LiP, Probe


def save_checkpoint(out_dir: str | os.PathLike[str], probe: Probe, vocab: Vocabulary, config: dict) -> None:
    """Write the three files atomically; ``model.safetensors`` last, so it marks completion."""
    out_dir = Path(out_dir)
    write_json(out_dir / "vocab.json", vocab.index)
    write_json(out_dir / "config.json", {**config, "type": probe.kind, "vocab_size": probe.vocab_size,
                                         "pattern": vocab.tokenizer.pattern})
    tensors = {name: p.detach().cpu().contiguous() for name, p in probe.named_parameters()}
    with atomic_path(out_dir / "model.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt", "type": probe.kind})


def load_checkpoint(model_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[Probe, Vocabulary, dict]:
    """Load a checkpoint folder (ours or the published one) → ``(probe, vocabulary, config)``."""
    model_dir = Path(model_dir)
    weights = model_dir / "model.safetensors"
    if not weights.exists():
        raise FlipInputError(f"{model_dir}: no model.safetensors")
    tensors = {k.removeprefix("_orig_mod."): v for k, v in load_file(str(weights), device="cpu").items()}
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    vocab = Vocabulary.from_json(model_dir / "vocab.json", config.get("pattern", "latin"))
    if "b" not in tensors:
        raise FlipInputError(f"{weights}: no bias tensor 'b'; keys are {sorted(tensors)}")
    bias = tensors["b"].float().reshape(-1, 1)
    if "E1" in tensors and "E2" in tensors:
        e1, e2 = tensors["E1"].float(), tensors["E2"].float()
        probe: Probe = FLiP(e1.shape[0], e2.shape[1], e2.shape[0])
        params = {"E1": e1, "E2": e2, "b": bias}
    elif "E" in tensors:
        e = tensors["E"].float()
        probe = LiP(e.shape[0], e.shape[1])
        params = {"E": e, "b": bias}
    else:
        raise FlipInputError(f"{weights}: expected keys E1, E2, b (FLiP) or E, b (LiP); found {sorted(tensors)}")
    if probe.vocab_size != len(vocab):
        raise FlipInputError(f"{model_dir}: model has {probe.vocab_size} words but vocab.json has {len(vocab)}")
    probe.load_state_dict(params)
    return probe.to(device).eval(), vocab, config
