"""Line-aligned plain-text files (the Moses layout of Europarl and Tatoeba) as a corpus.

Each view is given as a file path or a glob; line *i* of every view is one utterance.
With a glob, matching files are concatenated in sorted order, and every view must match
the same number of files with the same line counts, so parallel files stay aligned.

Two options make a training pool of one set of files and a test set of others (the
Tatoeba study: every English side pooled for training, tested on EN–XX pairs):

* ``exclude`` (``{view: glob or [globs]}``): a row whose text in that view is a line of
  those files is dropped (counted as ``excluded_skipped``), e.g. the English sides of
  every test pair, so no test sentence is trained on or counted in a vocabulary;
* ``test`` (``{view: glob}``, aligned files holding every view of ``views`` and possibly
  more): the test split is these rows (empty and duplicate rows dropped); ``views``'
  rows make train and dev by the ``train`` and ``dev`` shares of ``splits``, and the
  ``test`` share of them is left out (``pool_unused``). A pool row whose text in a shared
  view equals a test row's is dropped first (``test_overlap_skipped``). Views only in
  ``test`` exist in the test split alone (evaluation only, never training).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_lines


def _expand(pattern: str, base: Path) -> list[Path]:
    full = pattern if os.path.isabs(pattern) else str(base / pattern)
    matches = sorted(Path(p) for p in glob.glob(full))
    if not matches:
        raise FlipInputError(f"no file matches {full!r}")
    return matches


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
        lines = [read_lines(p) for p in group]
        lengths = {str(p): len(lin) for p, lin in zip(group, lines)}
        if len(set(lengths.values())) != 1:
            raise FlipInputError(f"aligned files have different line counts: {lengths}")
        for view, lin in zip(views, lines):
            columns[view].extend(line.strip() for line in lin)
    return columns


def _clean_rows(columns: dict[str, list[str]], deduplicate: bool, counts: dict[str, int], prefix: str = "") -> list[tuple]:
    """Rows (tuples in view order) of ``columns`` without empty ones and, with ``deduplicate``,
    without repeats; ``counts[prefix + "rows_read" | "empty_skipped" | "duplicates_skipped"]`` say how many."""
    rows = list(zip(*columns.values()))
    for key in ("rows_read", "empty_skipped", "duplicates_skipped"):
        counts[prefix + key] = 0
    counts[prefix + "rows_read"] = len(rows)
    kept, seen = [], set()
    for row in rows:
        if not all(row):
            counts[prefix + "empty_skipped"] += 1
        elif deduplicate and row in seen:
            counts[prefix + "duplicates_skipped"] += 1
        else:
            seen.add(row)
            kept.append(row)
    return kept


def _excluded_lines(exclude: dict[str, str | list[str]], views: dict[str, str], base: Path) -> dict[int, set[str]]:
    """``{view position: stripped lines of the files its ``exclude`` globs match}``."""
    out: dict[int, set[str]] = {}
    for view, patterns in exclude.items():
        if view not in views:
            raise FlipInputError(f"exclude: {view!r} is not one of the views {list(views)}")
        lines = out.setdefault(list(views).index(view), set())
        for pattern in [patterns] if isinstance(patterns, str) else patterns:
            for path in _expand(pattern, base):
                lines.update(line.strip() for line in read_lines(path))
    return out


def _drop_matching(rows: list[tuple], lines: dict[int, set[str]]) -> tuple[list[tuple], int]:
    """``rows`` without those whose value at a position of ``lines`` is in its set, and how many went."""
    kept = [row for row in rows if not any(row[j] in lines[j] for j in lines)]
    return kept, len(rows) - len(kept)


def _table(rows: list[tuple], views: list[str], split: str, ids: list[str]) -> pa.Table:
    data = {"id": ids, **{view: [row[j] for row in rows] for j, view in enumerate(views)}}
    return pa.table({**data, "split": [split] * len(rows)})


def read_text_files(
    views: dict[str, str],
    fractions: dict[str, float],
    seed: int,
    corpus: str,
    base: Path,
    deduplicate: bool = True,
    exclude: dict[str, str | list[str]] | None = None,
    test: dict[str, str] | None = None,
) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """Read aligned views and split them deterministically.

    Args:
        views: ``{view: path or glob}``, e.g. ``{"text_en": "tatoeba.deu-eng.eng"}``.
        fractions: ``{"train": .8, "dev": .1}``; ``test`` takes the remainder (with ``test``
            files: that share of ``views``' rows is left out).
        seed: seed of the split permutation.
        corpus: corpus name, prefix of the row ids (test files' rows: ``{corpus}-t{row}``).
        base: folder that relative paths are resolved against.
        deduplicate: drop rows whose full tuple of view values was already seen.
        exclude: ``{view: glob or [globs]}`` whose lines drop the rows holding them.
        test: ``{view: glob}`` of the test split's aligned files (see the module docstring).

    Returns:
        ``({split: table}, counts)`` where counts has ``rows_read``, ``empty_skipped`` and
        ``duplicates_skipped``; with ``exclude`` ``excluded_skipped``; with ``test`` the same
        three prefixed ``test_``, ``test_overlap_skipped`` and ``pool_unused``.
    """
    counts: dict[str, int] = {}
    kept = _clean_rows(read_aligned_columns(views, base), deduplicate, counts)
    if exclude:
        kept, counts["excluded_skipped"] = _drop_matching(kept, _excluded_lines(exclude, views, base))
    tables = {}
    if test:
        missing = [view for view in views if view not in test]
        if missing:
            raise FlipInputError(f"corpus {corpus!r}: test files give no {missing[0]!r}; every view of "
                                 f"`views` must be tested (test views: {list(test)})")
        test_rows = _clean_rows(read_aligned_columns(test, base), deduplicate, counts, "test_")
        if not test_rows:
            raise FlipInputError(f"corpus {corpus!r}: no non-empty rows in the test files {test}")
        shared = {j: {row[list(test).index(view)] for row in test_rows} for j, view in enumerate(views)}
        kept, counts["test_overlap_skipped"] = _drop_matching(kept, shared)
        tables["test"] = _table(test_rows, list(test), "test", [f"{corpus}-t{i:07d}" for i in range(len(test_rows))])
    if not kept:
        raise FlipInputError(f"corpus {corpus!r}: no non-empty rows in {views}")

    order = np.random.default_rng(seed).permutation(len(kept))
    sizes = {s: int(round(fractions.get(s, 0.0) * len(kept))) for s in ("train", "dev")}
    bounds = {"train": (0, sizes["train"]), "dev": (sizes["train"], sizes["train"] + sizes["dev"])}
    if test:
        counts["pool_unused"] = len(kept) - bounds["dev"][1]
    else:
        bounds["test"] = (bounds["dev"][1], len(kept))
    for split, (lo, hi) in bounds.items():
        idx = np.sort(order[lo:hi])
        tables[split] = _table([kept[i] for i in idx], list(views), split, [f"{corpus}-{i:07d}" for i in idx])
    return {split: tables[split] for split in ("train", "dev", "test")}, counts
