"""Line-aligned plain-text files (the Moses layout of Europarl and Tatoeba) as a corpus.

Each view is given as a file path or a glob; line *i* of every view is one utterance.
With a glob, matching files are concatenated in sorted order, and every view must match
the same number of files with the same line counts, so parallel files stay aligned.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from flip_pipeline.errors import FlipInputError


def _expand(pattern: str, base: Path) -> list[Path]:
    full = pattern if os.path.isabs(pattern) else str(base / pattern)
    matches = sorted(Path(p) for p in glob.glob(full))
    if not matches:
        raise FlipInputError(f"no file matches {full!r}")
    return matches


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise FlipInputError(f"{path}: line {line} is not valid UTF-8") from None
    # Split on "\n" only: str.splitlines() also breaks at \x0b, \x0c, \x1c-\x1e, \x85,
    # \u2028 and \u2029, which occur inside Europarl sentences and would misalign files.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_aligned_columns(views: dict[str, str], base: Path) -> dict[str, list[str]]:
    """Read line-aligned files: ``{view: path or glob}`` → ``{view: stripped lines}``.

    Raises :class:`FlipInputError` naming the file when a view matches no file, the views
    match different numbers of files, aligned files differ in line count, or a line is
    not UTF-8. Empty lines are kept (callers decide whether to skip them).
    """
    files = {view: _expand(pattern, base) for view, pattern in views.items()}
    n_files = {view: len(f) for view, f in files.items()}
    if len(set(n_files.values())) != 1:
        raise FlipInputError(f"views match different numbers of files: {n_files}")
    columns: dict[str, list[str]] = {view: [] for view in views}
    for group in zip(*files.values()):
        lines = [_read_lines(p) for p in group]
        lengths = {str(p): len(lin) for p, lin in zip(group, lines)}
        if len(set(lengths.values())) != 1:
            raise FlipInputError(f"aligned files have different line counts: {lengths}")
        for view, lin in zip(views, lines):
            columns[view].extend(line.strip() for line in lin)
    return columns


def read_text_files(
    views: dict[str, str],
    fractions: dict[str, float],
    seed: int,
    corpus: str,
    base: Path,
    deduplicate: bool = True,
) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """Read aligned views and split them deterministically.

    Args:
        views: ``{view: path or glob}``, e.g. ``{"text_en": "tatoeba.deu-eng.eng"}``.
        fractions: ``{"train": .8, "dev": .1}``; ``test`` takes the remainder.
        seed: seed of the split permutation.
        corpus: corpus name, prefix of the row ids.
        base: folder that relative paths are resolved against.
        deduplicate: drop rows whose full tuple of view values was already seen.

    Returns:
        ``({split: table}, counts)`` where counts has ``rows_read``, ``empty_skipped`` and
        ``duplicates_skipped``.
    """
    columns = read_aligned_columns(views, base)
    rows = list(zip(*columns.values()))
    counts = {"rows_read": len(rows), "empty_skipped": 0, "duplicates_skipped": 0}
    kept, seen = [], set()
    for row in rows:
        if not all(row):
            counts["empty_skipped"] += 1
        elif deduplicate and row in seen:
            counts["duplicates_skipped"] += 1
        else:
            seen.add(row)
            kept.append(row)
    if not kept:
        raise FlipInputError(f"corpus {corpus!r}: no non-empty rows in {views}")

    order = np.random.default_rng(seed).permutation(len(kept))
    sizes = {s: int(round(fractions.get(s, 0.0) * len(kept))) for s in ("train", "dev")}
    bounds = {"train": (0, sizes["train"]), "dev": (sizes["train"], sizes["train"] + sizes["dev"])}
    bounds["test"] = (bounds["dev"][1], len(kept))
    tables = {}
    for split, (lo, hi) in bounds.items():
        idx = np.sort(order[lo:hi])
        table = {"id": [f"{corpus}-{i:07d}" for i in idx]}
        for j, view in enumerate(views):
            table[view] = [kept[i][j] for i in idx]
        table["split"] = [split] * len(idx)
        tables[split] = pa.table(table)
    return tables, counts
