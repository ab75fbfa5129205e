"""Checkpoints in the published FLiP layout: ``model.safetensors``, ``vocab.json``, ``config.json``.

``model.safetensors`` holds exactly ``E1`` (W×r), ``E2`` (r×d), ``b`` (W×1) for FLiP or ``E``
(W×d), ``b`` for LiP, all finite — the key names of the BUT-FIT/FLiP-en-sonar files, which
load here as they are (keys prefixed ``_orig_mod.`` by ``torch.compile`` are accepted too).
Any other tensor, shape or file is an error naming the file and what is wrong.
No pickle: tensors in safetensors, everything else in JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from flip_pipeline.atomic import atomic_path, write_json
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.vocabulary import Vocabulary
from flip_pipeline.probes.lip import FLiP, LiP, Probe

LAYOUTS = {"FLiP": ("E1", "E2", "b"), "LiP": ("E", "b")}  # the published key names
COMPILE_PREFIX = "_orig_mod."  # what torch.compile puts before parameter names
MATRICES = {"E1": "words x rank", "E2": "rank x dim", "E": "words x dim"}  # the 2-d tensors and their axes


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
    """Load a checkpoint folder (ours or the published one) → ``(probe, vocabulary, config)``.

    ``model.safetensors`` must hold exactly ``E1`` ``(W, r)``, ``E2`` ``(r, d)``, ``b`` ``(W, 1)``
    (FLiP) or ``E`` ``(W, d)``, ``b`` (LiP), all finite; anything else is a :class:`FlipInputError` naming
    the file and the tensors at fault.
    """
    model_dir = Path(model_dir)
    weights = model_dir / "model.safetensors"
    if not weights.exists():
        raise FlipInputError(f"{model_dir}: no model.safetensors")
    tensors = _layout_tensors(weights, _read_tensors(weights))
    _check_shapes(weights, tensors)
    _check_finite(weights, tensors)
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    vocab = Vocabulary.from_json(model_dir / "vocab.json", config.get("pattern", "latin"))
    probe = _probe(tensors)
    if probe.vocab_size != len(vocab):
        raise FlipInputError(f"{model_dir}: model has {probe.vocab_size} words but vocab.json has {len(vocab)}")
    return probe.to(device).eval(), vocab, config


def _read_tensors(weights: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file as float32, by name without ``torch.compile``'s prefix."""
    try:
        stored = load_file(str(weights), device="cpu")
    except SafetensorError as err:  # e.g. a pickle renamed: its header is garbage, nothing of it runs
        raise FlipInputError(f"{weights}: not a safetensors file ({err})") from None
    tensors: dict[str, torch.Tensor] = {}
    for key, value in stored.items():
        name = key.removeprefix(COMPILE_PREFIX)
        if name in tensors:
            raise FlipInputError(f"{weights}: tensor {name} is stored twice, as {name} and {COMPILE_PREFIX}{name}")
        tensors[name] = value.float()
    return tensors


def _layout_tensors(weights: Path, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of the layout found, FLiP's ``E1``, ``E2``, ``b`` or LiP's ``E``, ``b``; no other may be there."""
    if "b" not in tensors:
        raise FlipInputError(f"{weights}: no bias tensor 'b'; keys are {sorted(tensors)}")
    for kind, keys in LAYOUTS.items():
        if tensors.keys() >= set(keys):
            unexpected = sorted(tensors.keys() - set(keys))
            if unexpected:
                raise FlipInputError(f"{weights}: unexpected tensors {unexpected}; a {kind} checkpoint holds exactly "
                                     f"{', '.join(keys)}")
            return {key: tensors[key] for key in keys}
    raise FlipInputError(f"{weights}: expected keys E1, E2, b (FLiP) or E, b (LiP); found {sorted(tensors)}")


def _shape(tensor: torch.Tensor) -> str:
    """``"5x4"``; ``"a scalar"`` for a 0-d tensor."""
    return "x".join(str(n) for n in tensor.shape) or "a scalar"


def _check_shapes(weights: Path, tensors: dict[str, torch.Tensor]) -> None:
    """``E1`` ``(W, r)`` with ``E2`` ``(r, d)``, or ``E`` ``(W, d)``; ``b`` ``(W, 1)``, ``(W,)`` or ``(1, W)``."""
    for name, meaning in MATRICES.items():
        if name in tensors and tensors[name].ndim != 2:
            raise FlipInputError(f"{weights}: {name} is {tensors[name].ndim}-d ({_shape(tensors[name])}); "
                                 f"expected a matrix {meaning}")
    if "E1" in tensors and tensors["E1"].shape[1] != tensors["E2"].shape[0]:
        raise FlipInputError(f"{weights}: E1 is {_shape(tensors['E1'])} and E2 is {_shape(tensors['E2'])}: the "
                             "columns of E1 and the rows of E2 (the rank) must agree")
    words_name = "E1" if "E1" in tensors else "E"
    words, bias = tensors[words_name].shape[0], tensors["b"]
    if bias.shape not in ((words, 1), (words,), (1, words)):
        raise FlipInputError(f"{weights}: b is {_shape(bias)} but {words_name} has {words} rows (words); "
                             f"expected b of {words}x1")


def _check_finite(weights: Path, tensors: dict[str, torch.Tensor]) -> None:
    """No NaN or infinity in any tensor (float32, so also no value beyond float32's range)."""
    for name, tensor in tensors.items():
        bad = int((~torch.isfinite(tensor)).sum())
        if bad:
            raise FlipInputError(f"{weights}: tensor {name} has {bad} non-finite values (NaN or inf) "
                                 f"of {tensor.numel()}")


def _probe(tensors: dict[str, torch.Tensor]) -> Probe:
    """FLiP from exactly ``E1``, ``E2``, ``b`` or LiP from ``E``, ``b`` (shapes already checked)."""
    if "E1" in tensors:
        e2 = tensors["E2"]
        probe: Probe = FLiP(tensors["E1"].shape[0], e2.shape[1], e2.shape[0])
    else:
        probe = LiP(*tensors["E"].shape)
    probe.load_state_dict({**tensors, "b": tensors["b"].reshape(-1, 1)})
    return probe
