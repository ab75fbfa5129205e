"""Atomic file output: write to a temporary name beside the target, then rename.

A reader (or a resumed run) therefore sees either the complete file or no file.
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flip_pipeline.errors import FlipInputError, first_line
from flip_pipeline.files import os_error, output_folder

_TMP_INFIX = ".tmp-"  # temporaries are named ``.{target}.tmp-{host}-{pid}``


def temporary_sibling(target: str | os.PathLike[str]) -> Path:
    """Where this process writes ``target`` (a file or a folder) before renaming it onto
    ``target``: ``.{name}.tmp-{host}-{pid}`` beside it, which
    :func:`remove_orphaned_temporaries` removes once this process is gone."""
    target = Path(target)
    return target.with_name(f".{target.name}{_TMP_INFIX}{socket.gethostname()}-{os.getpid()}")


def _writer_is_gone(tmp: Path) -> bool:
    """Whether the process that named ``tmp`` has exited; ``False`` for a writer on another
    host (a shared file system: its process table is not ours to read)."""
    host, _, pid = tmp.name.rsplit(_TMP_INFIX, 1)[1].rpartition("-")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        pass
    return False


def remove_orphaned_temporaries(folder: str | os.PathLike[str], targets: str = "*") -> None:
    """Delete the temporaries (files or folders) of targets matching the glob ``targets`` in
    ``folder`` whose writing process on this host is gone (a killed run); those of live
    writers and of writers on other hosts are left alone."""
    for tmp in Path(folder).glob(f".{targets}{_TMP_INFIX}*"):
        if not _writer_is_gone(tmp):
            continue
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left untouched. The
    temporaries of the same target left by killed writers are removed first. A write the
    file system refuses (no permission, read-only, disk full, a file where the folder should
    be) is a one-line :class:`~flip_pipeline.errors.FlipInputError` naming ``target``.
    """
    target = Path(target)
    output_folder(target.parent)
    tmp = temporary_sibling(target)
    try:
        remove_orphaned_temporaries(target.parent, glob.escape(target.name))
        yield tmp
        os.replace(tmp, target)
    except OSError as err:
        if err.filename not in (None, str(tmp), str(target)):  # another file the caller read or wrote
            raise os_error(err) from None
        raise os_error(err, target, "cannot write") from None
    finally:
        tmp.unlink(missing_ok=True)


def strict_json(obj: Any, **options: Any) -> str:
    """``obj`` as strict JSON (RFC 8259): a non-finite float (NaN, ±inf), which ``json.dumps``
    would write as a bare ``NaN`` that strict parsers reject, is written as ``null`` (no value)."""
    return json.dumps(_finite_or_none(obj), allow_nan=False, ensure_ascii=False, **options)


def _finite_or_none(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite_or_none(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(value) for value in obj]
    return obj


def write_json(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 strict JSON (:func:`strict_json`), atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(strict_json(obj, indent=2) + "\n", encoding="utf-8")


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` as UTF-8, atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_safetensors(target: str | os.PathLike[str], tensors: dict[str, Any], metadata: dict[str, str]) -> None:
    """Write torch ``tensors`` as a safetensors file with ``metadata``, atomically (a write the
    file system refuses is an error naming ``target``, as for every file written here)."""
    from safetensors import SafetensorError  # torch only where tensors are written
    from safetensors.torch import save_file

    with atomic_path(target) as tmp:
        try:
            save_file(tensors, str(tmp), metadata=metadata)
        except SafetensorError as err:  # its I/O errors (a full disk) are not OSError
            raise FlipInputError(f"{target}: cannot write: {first_line(err)}") from None
