"""Shared steps of every parallel-text (bitext) source: clean, deduplicate, split.

Europarl, Samanantar (and any other sentence-aligned source) hand over their aligned
view columns; :func:`build_parallel_splits` turns them into ``{split: table}``:

1. whitespace is trimmed; a row with a missing or empty sentence in any view is
   skipped and counted (``empty_skipped``);
2. with ``deduplicate`` (default), a row whose full tuple of view values was already
   seen is skipped and counted (``duplicates_skipped``), so no pair is in two splits;
3. the remaining rows are split by :func:`split_by_counts` (``split_sizes``: absolute
   dev and test sizes, train = the rest, optionally capped) or, without
   ``split_sizes``, by fractions (``splits``).

Row ids are ``{corpus}-{row:08d}`` where ``row`` is the 0-based row (line) of the
source, so every id points back at its line in the released files.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flip_pipeline.corpora.splits import split_fractions
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import SPLITS

DEFAULT_SPLIT_SIZES = {"dev": 10_000, "test": 10_000}


def split_by_counts(n: int, sizes: dict[str, int], seed: int, key: str = "split_sizes") -> dict[str, np.ndarray]:
    """Deterministic train/dev/test row indices by absolute counts.

    Args:
        n: number of usable rows.
        sizes: ``{"dev": int, "test": int}`` and optionally ``"train"`` (a cap; train
            is otherwise every row not in dev or test).
        seed: seed of the permutation; the same ``(n, sizes, seed)`` gives the same split.
        key: config key named in errors.

    Returns:
        ``{split: sorted int64 row indices}``. Dev and test are drawn first, so capping
        train never changes them.
    """
    dev, test = int(sizes.get("dev", 0)), int(sizes.get("test", 0))
    cap = sizes.get("train")
    if dev < 1 or test < 1:
        raise FlipInputError(f"{key}: dev and test must both be at least 1 (got dev={dev}, test={test})")
    if dev + test >= n:
        raise FlipInputError(
            f"{key}: dev {dev} + test {test} rows leave no training rows out of {n} usable rows"
        )
    order = np.random.default_rng(seed).permutation(n)
    train = order[dev + test :]
    if cap is not None:
        train = train[: int(cap)]
    return {"train": np.sort(train), "dev": np.sort(order[:dev]), "test": np.sort(order[dev : dev + test])}


def split_by_fractions(n: int, fractions: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """Deterministic split by shares (:func:`~flip_pipeline.corpora.splits.split_fractions`);
    ``test`` takes the remainder of the rounding (as ``text_files``)."""
    order = np.random.default_rng(seed).permutation(n)
    n_train = round(fractions["train"] * n)
    n_dev = round(fractions["dev"] * n)
    return {
        "train": np.sort(order[:n_train]),
        "dev": np.sort(order[n_train : n_train + n_dev]),
        "test": np.sort(order[n_train + n_dev :]),
    }


def assign_splits(
    n: int, spec: dict[str, Any], key: str, default_sizes: dict[str, int] | None = None
) -> dict[str, np.ndarray]:
    """Split ``n`` rows as a corpus config entry asks: ``split_sizes`` (counts) wins over
    ``splits`` (fractions); with neither, ``default_sizes`` if given, else 80/10/10."""
    seed = int(spec.get("seed", 0))
    if "split_sizes" in spec:
        return split_by_counts(n, spec["split_sizes"], seed, f"{key}.split_sizes")
    if "splits" in spec or default_sizes is None:
        return split_by_fractions(n, split_fractions(spec, f"{key}.splits"), seed)
    return split_by_counts(n, default_sizes, seed, f"{key}.split_sizes (default)")


def _as_string_array(values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    elif not isinstance(values, pa.Array):
        values = pa.array(values, type=pa.string())
    if pa.types.is_large_string(values.type) or pa.types.is_string_view(values.type):
        values = values.cast(pa.string())
    if not pa.types.is_string(values.type):
        raise FlipInputError(f"expected a text column, found type {values.type}")
    return values


def build_parallel_splits(
    columns: dict[str, Any],
    corpus: str,
    spec: dict[str, Any],
    key: str,
    default_sizes: dict[str, int] | None = DEFAULT_SPLIT_SIZES,
) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Clean, deduplicate and split aligned view columns (see the module docstring).

    Args:
        columns: ``{view: list[str] | pyarrow string array}``, all of one length.
        corpus: corpus name, prefix of the row ids.
        spec: the corpus config entry (``split_sizes``, ``splits``, ``seed``, ``deduplicate``).
        key: config key of the corpus (``corpora.<name>``), named in errors.
        default_sizes: counts used when the entry has neither ``split_sizes`` nor ``splits``.

    Returns:
        ``({split: table}, counts)``; tables have ``id``, the view columns and ``split``;
        counts has ``rows_read``, ``empty_skipped``, ``duplicates_skipped``, ``rows_usable``.
    """
    arrays = {view: _as_string_array(values) for view, values in columns.items()}
    lengths = {view: len(a) for view, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise FlipInputError(f"{key}: aligned views have different lengths: {lengths}")
    n = next(iter(lengths.values()))
    arrays = {view: pc.utf8_trim_whitespace(a) for view, a in arrays.items()}
    keep = np.ones(n, dtype=bool)
    for a in arrays.values():
        empty = pc.fill_null(pc.equal(pc.utf8_length(a), 0), True)
        keep &= ~empty.to_numpy(zero_copy_only=False)
    counts: dict[str, Any] = {"rows_read": n, "empty_skipped": int(n - keep.sum()), "duplicates_skipped": 0}
    rows = np.flatnonzero(keep)
    if spec.get("deduplicate", True) and len(rows):
        table = pa.table({**{v: a.take(rows) for v, a in arrays.items()}, "_row": pa.array(rows)})
        first = table.group_by(list(arrays), use_threads=False).aggregate([("_row", "min")])
        unique = np.sort(first.column("_row_min").to_numpy())
        counts["duplicates_skipped"] = int(len(rows) - len(unique))
        rows = unique
    counts["rows_usable"] = len(rows)
    if not len(rows):
        raise FlipInputError(f"{key}: no non-empty rows to split")
    parts = assign_splits(len(rows), spec, key, default_sizes)
    tables = {}
    for split in SPLITS:
        src = rows[parts[split]]
        data = {"id": pa.array([f"{corpus}-{r:08d}" for r in src.tolist()], pa.string())}
        for view, a in arrays.items():
            data[view] = a.take(pa.array(src))
        data["split"] = pa.array([split] * len(src), pa.string())
        tables[split] = pa.table(data)
    return tables, counts
