"""Opening input files and output folders: the one place where what the file system says
(missing, a folder where a file is expected or the reverse, no permission, a read-only file
system, a full disk) becomes a one-line :class:`~flip_pipeline.errors.FlipInputError`
naming the path, and where the plain formats every stage shares are read: UTF-8 text lines
and JSON (a leading byte-order mark dropped), Parquet tables and their schemas.

Writing goes through :mod:`flip_pipeline.atomic`, which reports a failed write with
:func:`os_error` and leaves no partial output.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.errors import FlipInputError, first_line

BOM = "\ufeff"  # the UTF-8 byte-order mark some editors put first in a text file

#: What an errno means to someone who gave the path, in words.
_REASONS = {
    errno.ENOENT: "does not exist",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "already exists and is not a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device (disk full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (the file system's or this process's file-size limit)",
    errno.ENAMETOOLONG: "file name too long",
}


def describe(err: OSError) -> str:
    """What went wrong, in words: ``"permission denied"``, ``"no space left on the device
    (disk full)"``, …; the first line of the error for an errno without words here."""
    reason = _REASONS.get(err.errno) if err.errno else None
    return reason or (err.strerror or first_line(err))


def os_error(err: OSError, path: str | os.PathLike[str] | None = None, doing: str = "") -> FlipInputError:
    """The one-line error for ``err`` raised at ``path`` (default: the error's own file name):
    ``"{path}: {doing}: {reason}"``."""
    where = path if path is not None else (err.filename or "")
    return FlipInputError(f"{where}: {doing + ': ' if doing else ''}{describe(err)}")


def input_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """``path``, checked to be a readable file: an error saying it is missing, a folder, or
    not readable. ``what`` names the kind of file expected (``"corpus table"``)."""
    path = Path(path)
    try:
        if path.is_dir():
            raise FlipInputError(f"{path}: is a folder, not a file (a {what} is expected)")
        if not path.is_file():
            raise FlipInputError(f"{path}: no such {what}" if not path.exists() else f"{path}: not a regular file "
                                 f"(a {what} is expected)")
        with open(path, "rb"):
            pass
    except OSError as err:
        raise os_error(err, path, f"cannot read {what}") from None
    return path


def input_folder(path: str | os.PathLike[str], what: str = "folder", must_exist: bool = True) -> Path:
    """``path``, checked to be a folder: an error saying it is a file, or (``must_exist``) missing;
    a caller that says better what a missing folder means passes ``must_exist=False``."""
    path = Path(path)
    if path.is_dir() or not (must_exist or path.exists()):
        return path
    raise FlipInputError(f"{path}: is a file, not a folder (a {what} is expected)" if path.exists()
                         else f"{path}: no such {what}")


def output_folder(path: str | os.PathLike[str], what: str = "output folder") -> Path:
    """``path`` as a folder to write into, created with its parents: an error when it (or a
    folder above it) is a file, or it cannot be created (no permission, read-only, disk full)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FlipInputError(f"{path}: is a file, not a folder (the {what})")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise os_error(err, path, f"cannot create the {what}") from None
    return path


def check_output_folder(path: str | os.PathLike[str], what: str = "output folder") -> Path:
    """``path`` checked, without creating anything, to be usable as a folder to write into: an
    error when it or a folder above it is a file, or it exists and is not writable."""
    path = Path(path)
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                where = "is a file" if folder == path else f"{folder} is a file"
                raise FlipInputError(f"{path}: {where}, not a folder (the {what})")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise FlipInputError(f"{path}: cannot write into {folder} (the {what}): permission denied or "
                                     "read-only")
            return path
    return path


def read_text(path: str | os.PathLike[str], what: str = "text file") -> str:
    """The UTF-8 text of ``path`` without a leading byte-order mark; an error naming the line
    of the first byte that is not UTF-8."""
    data = input_file(path, what).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise FlipInputError(f"{path}: line {line} is not valid UTF-8") from None
    return text.removeprefix(BOM)


def read_lines(path: str | os.PathLike[str], what: str = "text file") -> list[str]:
    """The lines of a UTF-8 text file (:func:`read_text`), without their ``\\n`` or ``\\r\\n``.

    Split on ``\\n`` only: ``str.splitlines()`` also breaks at ``\\x0b``, ``\\x0c``,
    ``\\x1c``-``\\x1e``, ``\\x85``, ``\\u2028`` and ``\\u2029``, which occur inside Europarl
    sentences and would misalign line-aligned files."""
    lines = read_text(path, what).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_json(path: str | os.PathLike[str], what: str = "JSON file") -> Any:
    """The JSON value in ``path``; an error naming the file, line and column of a syntax error."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise FlipInputError(f"{path}:{err.lineno}:{err.colno}: {what} is not valid JSON: {err.msg}") from None


def read_json_object(path: str | os.PathLike[str], what: str = "JSON file") -> dict[str, Any]:
    """:func:`read_json` of a file that must hold an object (``{...}``)."""
    value = read_json(path, what)
    if not isinstance(value, dict):
        raise FlipInputError(f"{path}: {what} must hold a JSON object {{...}}, not {type(value).__name__}")
    return value


def read_parquet(path: str | os.PathLike[str], columns: Sequence[str] | None = None,
                 what: str = "Parquet file") -> pa.Table:
    """The table in ``path`` (only ``columns`` when given); an error naming the file when it is
    missing, a folder, cut short, not Parquet, or lacks one of ``columns``."""
    path = input_file(path, what)
    schema = read_parquet_schema(path, what)
    missing = [c for c in columns or () if c not in schema.names]
    if missing:
        raise FlipInputError(f"{path}: {what} has no column(s) {missing}; it has {schema.names}")
    try:
        return pq.read_table(path, columns=list(columns) if columns is not None else None)
    except (OSError, pa.ArrowException) as err:
        raise FlipInputError(f"{path}: not a readable {what} ({first_line(err)})") from None


def read_parquet_schema(path: str | os.PathLike[str], what: str = "Parquet file") -> pa.Schema:
    """The schema (with its metadata) of the Parquet file ``path``; an error naming the file when
    it is missing, a folder, cut short or not Parquet."""
    path = input_file(path, what)
    try:
        return pq.read_schema(path)
    except (OSError, pa.ArrowException) as err:
        raise FlipInputError(f"{path}: not a readable {what} ({first_line(err)})") from None
