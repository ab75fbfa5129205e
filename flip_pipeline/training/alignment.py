"""Embedded views read by corpus row, when the encoder skipped some rows.

A speech view embedded with ``skip_bad_audio`` holds fewer rows than its corpus split: the
manifest lists each left-out id under ``skipped``. Bags of words always have every corpus
row. :class:`AlignedView` reads a view by corpus row (skipped rows read as zeros and are
marked absent), so training keeps only rows present in every view and evaluation scores
only rows that have an embedding. Any other difference between the ids is an error naming
the first differing row.
"""

from __future__ import annotations

import numpy as np

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.shards import ViewEmbeddings


class AlignedView:
    """One embedded view indexed by the rows of a corpus split.

    Attributes:
        view: the embeddings (``m ≤ n`` rows).
        present: bool ``(n,)``, false for corpus rows the encoder skipped.
        dim: embedding dimension ``d``.
    """

    def __init__(self, view: ViewEmbeddings, corpus_ids: np.ndarray, corpus_source: str):
        self.view = view
        self.dim = view.dim
        corpus_ids = np.asarray(corpus_ids, dtype=str)
        own = np.asarray(view.ids, dtype=str)
        if len(own) == len(corpus_ids) and (own == corpus_ids).all():
            self._position = None
            self.present = np.ones(len(corpus_ids), dtype=bool)
            return
        skipped = {entry["id"] for entry in view.manifest.get("skipped", [])}
        self.present = ~np.isin(corpus_ids, list(skipped))
        expected = corpus_ids[self.present]
        if len(expected) != len(own) or (expected != own).any():
            differ = np.flatnonzero(expected[: len(own)] != own[: len(expected)])
            row = int(differ[0]) if differ.size else min(len(own), len(expected))
            raise FlipInputError(
                f"{view.view_dir} has {len(own)} rows and {corpus_source} {len(corpus_ids)} "
                f"({len(skipped)} listed as skipped in the manifest); they first differ at embedding row {row}: "
                f"{_at(own, row)} vs {_at(expected, row)}"
            )
        self._position = np.cumsum(self.present) - 1  # embedding row of each present corpus row

    def __len__(self) -> int:
        return len(self.present)

    def row_group_starts(self) -> np.ndarray:
        """Corpus row of the first row of every row group of the view (skipped rows not counted)."""
        starts = self.view.row_group_starts()
        return starts if self._position is None else np.flatnonzero(self.present)[starts]

    def read_rows(self, lo: int, hi: int, out: np.ndarray | None = None) -> np.ndarray:
        """Corpus rows ``[lo, hi)`` as float32 ``(hi - lo, d)``, into ``out`` when given; skipped
        rows are zeros."""
        if self._position is None:
            return self.view.read_rows(lo, hi, out)
        present = self.present[lo:hi]
        if out is None:
            out = np.zeros((hi - lo, self.dim), dtype=np.float32)
        else:
            out[:] = 0
        if present.any():
            rows = self._position[lo:hi][present]  # consecutive embedding rows
            out[present] = self.view.read_rows(int(rows[0]), int(rows[-1]) + 1)
        return out


def _at(ids: np.ndarray, row: int) -> str:
    return repr(str(ids[row])) if row < len(ids) else "(end)"
