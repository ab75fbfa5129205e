"""Atomic file output: write to a temporary name beside the target, then rename.

A reader (or a resumed run) therefore sees either the complete file or no file.
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_TMP_INFIX = ".tmp-"  # temporaries are named ``.{target}.tmp-{pid}``


def remove_orphaned_temporaries(folder: str | os.PathLike[str], targets: str = "*") -> None:
    """Delete the temporaries of targets matching the glob ``targets`` in ``folder`` whose
    writing process is gone (a killed run); those of live writers are left alone."""
    for tmp in Path(folder).glob(f".{targets}{_TMP_INFIX}*"):
        try:
            os.kill(int(tmp.name.rsplit("-", 1)[1]), 0)
        except (ValueError, ProcessLookupError):
            tmp.unlink(missing_ok=True)
        except PermissionError:  # alive, owned by someone else
            pass


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left untouched. The
    temporaries of the same target left by killed writers are removed first.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_temporaries(target.parent, glob.escape(target.name))
    tmp = target.with_name(f".{target.name}{_TMP_INFIX}{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, target)
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
