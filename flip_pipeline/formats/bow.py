"""Bags of words: CSR count matrices of one text view, rows aligned with the corpus ids.

File ``bow/{vocab}/{corpus}/{split}/{view}.npz`` (no pickle: every array has a plain
dtype): ``ids`` ``(n,)``, the CSR ``indptr``, ``indices``, ``data`` and ``shape`` ``(n, W)``
(``W`` the vocabulary size), and ``oov_types`` ``(n,)`` distinct out-of-vocabulary tokens
per row.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from flip_pipeline.atomic import atomic_path
from flip_pipeline.errors import FlipInputError


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
                oov_types=self.oov_types,
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BagOfWords:
        try:
            with np.load(path, allow_pickle=False) as z:
                counts = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
                return cls(z["ids"], counts, z["oov_types"])
        except (OSError, KeyError, ValueError) as err:
            raise FlipInputError(f"{path}: not a bag-of-words file: {err}") from None
