"""Tab-separated files, quoting off: with a header row (the Common Voice release format)
or, given the column names, without one (the FLEURS release format).

A field is everything between two tabs: quotes are ordinary characters, so a sentence
such as ``He said "no".`` is read as written. Rows are ``(line number, fields)``; blank
lines are skipped. Errors name the file and the 1-based line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_lines


def read_tsv(
    path: Path, required: Iterable[str], names: list[str] | None = None
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Read ``path``; return ``(header, [(line_no, fields), ...])``.

    With ``names`` the file has no header row: ``names`` is the header and every line is
    a row (an empty file has no rows).

    Raises :class:`FlipInputError` when the file is missing, is not UTF-8 (line given),
    lacks a ``required`` column, or a row has a different number of fields than the header.
    """
    path = Path(path)
    if not path.is_file():
        raise FlipInputError(f"{path}: file not found")
    lines = read_lines(path)
    if names is not None:
        header, first = list(names), 1
    elif not lines or not lines[0].strip():
        raise FlipInputError(f"{path}: empty file, expected a header row")
    else:
        header, first, lines = lines[0].split("\t"), 2, lines[1:]
    missing = [c for c in required if c not in header]
    if missing:
        raise FlipInputError(f"{path}: missing column(s) {missing}; the header has {header}")
    if len(set(header)) != len(header):
        raise FlipInputError(f"{path}: header has duplicate column names: {header}")
    rows = []
    for number, line in enumerate(lines, start=first):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            expected = f"the header has {len(header)}" if names is None else f"expected {len(header)} ({', '.join(header)})"
            raise FlipInputError(f"{path}: line {number} has {len(fields)} fields, {expected}")
        rows.append((number, fields))
    return header, rows
