"""Released PyTorch checkpoints → safetensors, without executing a pickle.

SALMONN's ``salmonn_7b_v0.pth`` and BEATs' ``BEATs_iter3_plus_AS2M_*.pt`` are pickles. They are
read once with ``torch.load(weights_only=True)``, whose unpickler builds only tensors and plain
containers (dict, list, tuple, str, numbers, ``None``) and refuses any other global — a
``__reduce__`` payload is refused before it runs. The tree is flattened to ``{"a.b.c": tensor}``
(keys joined by ``.``, list items by index) and written as safetensors; the plain leaves that
are not tensors (BEATs' ``cfg``: numbers, strings, booleans) go, as JSON, into the file's
metadata under ``flip.plain``; ``flip.source_sha256`` and ``flip.source`` name the source.
The SHA-256 is also written beside the output, as ``<output>.sha256`` (``sha256sum`` format).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from pathlib import Path
from typing import Any

from flip_pipeline.atomic import write_safetensors, write_text
from flip_pipeline.errors import FlipInputError, first_line
from flip_pipeline.files import input_file

PLAIN_LEAVES = (bool, int, float, str, type(None))
SHA_KEY, SOURCE_KEY, PLAIN_KEY = "flip.source_sha256", "flip.source", "flip.plain"


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in ``chunk``-byte pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def flatten(tree: Any, source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(tensors, plain)``: the tensor leaves and the other plain leaves of a loaded
    checkpoint, each keyed by its dotted path. Any other leaf is a :class:`FlipInputError`."""
    import torch

    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {}
    seen: set[tuple[int, int]] = set()  # (storage, offset) of tensors already kept: safetensors refuses shared ones
    stack: list[tuple[str, Any]] = [("", tree)]
    while stack:
        key, node = stack.pop()
        if isinstance(node, dict):
            for name, child in node.items():
                if not isinstance(name, (str, int)):
                    raise FlipInputError(f"{source}: key {name!r} under {key or 'the top level'!r} is not a string")
                stack.append((f"{key}.{name}" if key else str(name), child))
        elif isinstance(node, (list, tuple)):
            stack.extend((f"{key}.{i}" if key else str(i), child) for i, child in enumerate(node))
        elif isinstance(node, torch.Tensor):
            tensor = node.detach().contiguous()
            where = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
            tensors[key] = tensor.clone() if where in seen else tensor
            seen.add(where)
        elif isinstance(node, PLAIN_LEAVES):
            plain[key] = node
        else:
            raise FlipInputError(f"{source}: {key!r} holds a {type(node).__name__}, not a tensor or plain value")
    return tensors, plain


def convert_checkpoint(source: str | Path, target: str | Path) -> dict[str, Any]:
    """Convert one ``.pth``/``.pt`` checkpoint to safetensors.

    Args:
        source: the released checkpoint (a ``torch.save`` pickle).
        target: the ``.safetensors`` file to write; ``<target>.sha256`` is written beside it.

    Returns:
        ``{"target", "source", "sha256", "tensors", "parameters"}`` (counts of tensors and of
        their elements).

    Raises:
        FlipInputError: the source is missing, not a checkpoint, or holds anything but
            tensors and plain containers; nothing is written then.
    """
    import torch

    source, target = input_file(source, "checkpoint"), Path(target)
    sha = sha256_of(source)
    try:
        tree = torch.load(source, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        raise FlipInputError(f"{source}: refused, not only tensors and plain containers "
                             f"(torch.load weights_only: {_refusal(err)})") from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        raise FlipInputError(f"{source}: not a PyTorch checkpoint ({first_line(err)})") from None
    tensors, plain = flatten(tree, str(source))
    if not tensors:
        raise FlipInputError(f"{source}: holds no tensors")
    metadata = {SHA_KEY: sha, SOURCE_KEY: source.name, PLAIN_KEY: json.dumps(plain, sort_keys=True)}
    write_safetensors(target, tensors, metadata)
    write_text(f"{target}.sha256", f"{sha}  {source.name}\n")
    return {"target": str(target), "source": str(source), "sha256": sha, "tensors": len(tensors),
            "parameters": sum(t.numel() for t in tensors.values())}


def _refusal(err: pickle.UnpicklingError) -> str:
    """The line of torch's weights_only refusal that names what was refused."""
    named = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
    return f"it would import {named.group(1)}" if named else first_line(err)


def require_converted(path: str | Path, what: str) -> Path:
    """``path`` if it is a file, else a :class:`FlipInputError` naming ``what`` and the conversion."""
    path = Path(path)
    if not path.is_file():
        raise FlipInputError(f"{what}: converted weight file {path} not found; convert the released checkpoint "
                             f"once with `flip convert-weights <checkpoint.pth> {path}`")
    return path


def source_sha256(path: str | Path) -> str:
    """The SHA-256 of the checkpoint a converted file was made from (its metadata; no tensor is read)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return (handle.metadata() or {}).get(SHA_KEY, "unknown")


def load_converted(path: str | Path, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(tensors, plain)`` of a file written by :func:`convert_checkpoint`.

    Args:
        path: the ``.safetensors`` file.
        what: the config key naming it, for errors (``encoders.salmonn.checkpoint``).
    """
    from safetensors import SafetensorError, safe_open

    path = require_converted(path, what)
    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError) as err:
        raise FlipInputError(f"{what}: {path} is not a safetensors file ({first_line(err)})") from None
    return tensors, json.loads(metadata.get(PLAIN_KEY, "{}"))
