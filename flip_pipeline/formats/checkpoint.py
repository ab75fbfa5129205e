"""Checkpoints in the published FLiP layout: ``model.safetensors``, ``vocab.json``, ``config.json``.

``model.safetensors`` holds exactly ``E1`` (W×r), ``E2`` (r×d), ``b`` (W×1) for FLiP or ``E``
(W×d), ``b`` for LiP, all finite — the key names of the BUT-FIT/FLiP-en-sonar files, which
load here as they are (keys prefixed ``_orig_mod.`` by ``torch.compile`` are accepted too).
Any other tensor, shape or file is an error naming the file and what is wrong.
No pickle: tensors in safetensors, everything else in JSON.

A published checkpoint is also named by its hub id, ``owner/name/subfolder``
(``BUT-FIT/FLiP-en-sonar/mcv15/rank-512``), optionally pinned to a revision (a commit,
branch or tag) after an ``@``: :func:`resolve_checkpoint` fetches the subfolder's files
with ``huggingface_hub`` into its cache (or finds them there, as ``HF_HUB_OFFLINE=1``
requires); an existing local path always wins. The folder of a swept
run (``selected.json``, :mod:`flip_pipeline.formats.sweep_choice`) loads as the selected point's.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from flip_pipeline.atomic import write_json, write_safetensors
from flip_pipeline.errors import FlipInputError, first_line
from flip_pipeline.files import input_folder, read_json_object
from flip_pipeline.formats.sweep_choice import selected_model_dir
from flip_pipeline.formats.vocabulary import Vocabulary
from flip_pipeline.probes.lip import FLiP, LiP, Probe

TENSOR_NAMES = {"FLiP": ("E1", "E2", "b"), "LiP": ("E", "b")}  # the published key names
FILES = ("model.safetensors", "vocab.json", "config.json")  # what a checkpoint folder holds
COMPILE_PREFIX = "_orig_mod."  # what torch.compile puts before parameter names
MATRICES = {"E1": "words x rank", "E2": "rank x dim", "E": "words x dim"}  # the 2-d tensors and their axes


def save_checkpoint(out_dir: str | os.PathLike[str], probe: Probe, vocab: Vocabulary, config: dict) -> None:
    """Write the three files atomically; ``model.safetensors`` last, so it marks completion."""
    out_dir = Path(out_dir)
    write_json(out_dir / "vocab.json", vocab.index)
    write_json(out_dir / "config.json", {**config, "type": probe.kind, "vocab_size": probe.vocab_size,
                                         "pattern": vocab.tokenizer.pattern})
    tensors = {name: p.detach().cpu().contiguous() for name, p in probe.named_parameters()}
    write_safetensors(out_dir / "model.safetensors", tensors, {"format": "pt", "type": probe.kind})


def resolve_checkpoint(model: str | os.PathLike[str]) -> Path:
    """The checkpoint folder ``model`` names: a local path as it is, else a hub id.

    A hub id is ``owner/name[/subfolder][@revision]`` (without a revision: the repository's
    ``main``); its ``model.safetensors``, ``vocab.json`` and ``config.json`` come from the hub's
    cache (fetched into it unless offline). Returns the folder, whose path names the snapshot's
    commit; a :class:`FlipInputError` naming ``model`` otherwise.
    """
    path = Path(model)
    if path.exists():
        return path
    repo_id, subfolder, revision = _hub_id(str(model))
    return _hub_folder(str(model), repo_id, subfolder, revision)


def _hub_id(model: str) -> tuple[str, str, str | None]:
    """``(repo id, subfolder, revision or None)`` of ``owner/name[/subfolder][@revision]``; an
    error if ``model`` is no such id."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    name, at, revision = model.partition("@")
    if at and not revision:
        raise FlipInputError(f"{model}: no such checkpoint folder, and an empty revision after '@'")
    parts = name.split("/")
    repo_id, subfolder = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        validate_repo_id(repo_id)
        valid = len(parts) > 1 and not {"", ".", ".."} & set(parts) and "\\" not in model
    except HFValidationError:
        valid = False
    if not valid:
        raise FlipInputError(f"{model}: no such checkpoint folder, and not a hub id owner/name[/subfolder][@revision]")
    return repo_id, subfolder, revision or None


def _hub_folder(model: str, repo_id: str, subfolder: str, revision: str | None) -> Path:
    """The snapshot folder of ``repo_id``'s ``subfolder`` at ``revision`` (``None``: main) with
    a ``model.safetensors`` in it."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = (f"hub repository {repo_id}" + (f" at revision {revision}" if revision else "")
             + (f" (subfolder {subfolder})" if subfolder else ""))
    not_cached = (f"{model}: no such local folder, and {where} is not in the local cache {constants.HF_HUB_CACHE}"
                  + (" (HF_HUB_OFFLINE=1)" if constants.HF_HUB_OFFLINE else " and the hub could not be reached"))
    try:
        snapshot = snapshot_download(repo_id, revision=revision,
                                     allow_patterns=[f"{subfolder}/{name}".lstrip("/") for name in FILES])
    except LocalEntryNotFoundError:  # offline, or the hub out of reach, and nothing cached
        raise FlipInputError(not_cached) from None
    except RevisionNotFoundError:
        raise FlipInputError(f"{model}: no such local folder, and {repo_id} has no revision {revision}") from None
    except RepositoryNotFoundError:  # also what a private or gated repository answers without a token
        raise FlipInputError(f"{model}: no such local folder, and no {where} on the hub") from None
    except (HfHubHTTPError, OSError) as err:  # e.g. a refused token, a proxy error, a full disk
        raise FlipInputError(f"{model}: no such local folder, and fetching {where} failed: {first_line(err)}") from None
    folder = Path(snapshot, subfolder)
    if not (folder / FILES[0]).is_file():
        raise FlipInputError(not_cached if constants.HF_HUB_OFFLINE else f"{model}: {where} has no {FILES[0]}")
    return folder


def load_checkpoint(model_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[Probe, Vocabulary, dict]:
    """Load a checkpoint folder (ours or the published one) → ``(probe, vocabulary, config)``.

    ``model.safetensors`` must hold exactly ``E1`` ``(W, r)``, ``E2`` ``(r, d)``, ``b`` ``(W, 1)``
    (FLiP) or ``E`` ``(W, d)``, ``b`` (LiP), all finite; anything else is a :class:`FlipInputError` naming
    the file and the tensors at fault. A swept run's folder loads the checkpoint of its selected
    point (:func:`~flip_pipeline.formats.sweep_choice.selected_model_dir`).
    """
    model_dir = selected_model_dir(input_folder(model_dir, "checkpoint folder", must_exist=False))
    weights = model_dir / "model.safetensors"
    if not weights.exists():
        raise FlipInputError(f"{model_dir}: no model.safetensors")
    tensors = _layout_tensors(weights, _read_tensors(weights))
    _check_shapes(weights, tensors)
    _check_finite(weights, tensors)
    config = _config(model_dir)
    vocab = _vocabulary(model_dir, config)
    probe = _probe(tensors)
    if probe.vocab_size != len(vocab):
        raise FlipInputError(f"{model_dir}: model has {probe.vocab_size} words but vocab.json has {len(vocab)}")
    return probe.to(device).eval(), vocab, config


def checkpoint_vocabulary(model: str | os.PathLike[str]) -> Vocabulary:
    """The vocabulary of the checkpoint ``model`` names (a folder, a swept run's folder or a hub id,
    :func:`resolve_checkpoint`): its ``vocab.json``, tokenised as its ``config.json`` records, so a
    bag of words counted with it has the checkpoint's columns (``flip bow --vocab-dir``)."""
    model_dir = selected_model_dir(resolve_checkpoint(model))
    return _vocabulary(model_dir, _config(model_dir))


def _config(model_dir: Path) -> dict:
    """A checkpoint's ``config.json`` (``{}`` when it has none, as some published folders)."""
    config_path = model_dir / "config.json"
    return read_json_object(config_path, "checkpoint configuration") if config_path.exists() else {}


def _vocabulary(model_dir: Path, config: dict) -> Vocabulary:
    return Vocabulary.from_json(model_dir / "vocab.json", config.get("pattern", "latin"))


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
    for kind, keys in TENSOR_NAMES.items():
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
