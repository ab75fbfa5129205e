"""Bags of words: CSR count matrices of one text view, rows aligned with the corpus ids.

File ``bow/{vocab}/{corpus}/{split}/{view}.npz`` (no pickle: every array has a plain
dtype): ``ids`` ``(n,)``, the CSR ``indptr``, ``indices``, ``data`` and ``shape`` ``(n, W)``
(``W`` the vocabulary size), ``format`` (``b"csr"``), and ``oov_types`` ``(n,)`` distinct
out-of-vocabulary tokens per row. The CSR keys are scipy's own, so
``scipy.sparse.load_npz(path)`` opens the counts directly (it ignores ``ids`` and
``oov_types``); files written before ``format`` was added still load here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from flip_pipeline.atomic import atomic_path
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import input_file

FORMAT = "csr"  # scipy.sparse's name for the layout, stored as `format` (what scipy.sparse.load_npz reads)


@dataclass
class BagOfWords:
    """Counts of one text view, rows aligned with the corpus ids.

    Attributes:
        ids: ``(n,)`` row ids.
        counts: CSR int32 ``(n, W)``.
        oov_types: ``(n,)`` distinct out-of-vocabulary token types per row.
    """

    ids: np.ndarray
    counts: sp.csr_matrix
    oov_types: np.ndarray

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write an ``.npz`` (no pickle: every array has a plain dtype) atomically."""
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                ids=self.ids.astype(str),
                indptr=self.counts.indptr,
                indices=self.counts.indices,
                data=self.counts.data,
                shape=np.asarray(self.counts.shape, dtype=np.int64),
                format=np.bytes_(FORMAT),
                oov_types=self.oov_types,
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BagOfWords:
        """Read an ``.npz`` written by :meth:`save`; an error naming the file if an array is
        missing or disagrees with ``shape`` ``(n, W)`` (see :func:`_disagreement`)."""
        try:
            with np.load(input_file(path, "bag-of-words file"), allow_pickle=False) as z:
                arrays = {key: z[key] for key in ("ids", "indptr", "indices", "data", "shape", "oov_types")}
                stored_format = z["format"].item() if "format" in z.files else FORMAT.encode()  # older files: none
        except (OSError, KeyError, ValueError) as err:
            raise FlipInputError(f"{path}: not a bag-of-words file: {err}") from None
        if stored_format not in (FORMAT, FORMAT.encode()):
            raise FlipInputError(f"{path}: not a bag-of-words file: sparse format {stored_format!r}, not {FORMAT!r}")
        problem = _disagreement(arrays)
        if problem:
            raise FlipInputError(f"{path}: not a bag-of-words file: {problem}")
        counts = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"]))
        return cls(arrays["ids"], counts, arrays["oov_types"])

    def check_width(self, width: int, vocab_source: str, own_path: str) -> None:
        """Raise naming both files unless the bag has ``width`` columns, the size ``W`` of the
        vocabulary read from ``vocab_source`` (a bag counted against another vocabulary would
        give a probe of the wrong number of words); ``own_path`` is this bag's file."""
        if self.counts.shape[1] != width:
            raise FlipInputError(f"{own_path}: {self.counts.shape[1]} columns but {vocab_source} has {width} words")


def _disagreement(arrays: dict[str, np.ndarray]) -> str | None:
    """What is wrong with the arrays of a bag-of-words file, or ``None``: ``shape`` must be
    ``(n, W)``; ``indptr`` ``n + 1`` non-decreasing offsets from 0 to ``len(indices)``;
    ``indices`` (as many as ``data``) column indices in ``[0, W)``; ``ids`` and
    ``oov_types`` ``n`` long."""
    shape, indptr, indices = arrays["shape"], arrays["indptr"], arrays["indices"]
    if shape.shape != (2,) or shape.min() < 0:
        return f"shape {shape.tolist()} is not (rows, columns)"
    rows, width = (int(v) for v in shape)
    if indptr.shape != (rows + 1,):
        return f"index pointer (indptr) has {indptr.size} entries for {rows} rows, needs {rows + 1}"
    if indptr[0] != 0 or indptr[-1] != len(indices) or (np.diff(indptr) < 0).any():
        return f"index pointer (indptr) is not non-decreasing offsets from 0 to the {len(indices)} column indices"
    if len(arrays["data"]) != len(indices):
        return f"{len(arrays['data'])} counts for {len(indices)} column indices"
    outside = indices[(indices < 0) | (indices >= width)]
    if outside.size:
        return f"column index {int(outside[0])} outside [0, {width})"
    for name in ("ids", "oov_types"):
        if len(arrays[name]) != rows:
            return f"{len(arrays[name])} {name} for {rows} rows"
    return None
