"""The streamed path read and built by a thread pool gives the serial reader's batches, batch for
batch; shard reads into a given array equal plain reads, across shards and row groups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from flip_pipeline.formats import shards
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.shards import ViewEmbeddings, shard_name, write_manifest, write_shard
from flip_pipeline.training.batches import TrainingData

CPU = torch.device("cpu")
N, DIM, WORDS, SHARD_ROWS = 101, 5, 13, 40
SKIPPED = [6, 57, 58]  # rows the second view's encoder skipped


def _write_view(folder: Path, seed: int, rows: list[int]) -> ViewEmbeddings:
    x = np.random.default_rng(seed).standard_normal((len(rows), DIM)).astype(np.float32)
    ids = [f"u{r}" for r in rows]
    written = []
    for i, lo in enumerate(range(0, len(rows), SHARD_ROWS)):
        write_shard(folder / shard_name(i), ids[lo : lo + SHARD_ROWS], x[lo : lo + SHARD_ROWS], {})
        written.append((shard_name(i), len(ids[lo : lo + SHARD_ROWS])))
    skipped = [{"id": f"u{r}", "reason": "bad audio"} for r in range(N) if r not in rows]
    write_manifest(folder, written, {"dim": DIM, "view": f"v{seed}", "skipped": skipped})
    return ViewEmbeddings(folder)


@pytest.fixture
def data(tmp_path, monkeypatch) -> TrainingData:
    monkeypatch.setattr(shards, "ROW_GROUP_ROWS", 7)  # several row groups per shard: several read pieces
    views = [_write_view(tmp_path / "a", 0, list(range(N))),
             _write_view(tmp_path / "b", 1, [r for r in range(N) if r not in SKIPPED])]
    rng = np.random.default_rng(2)
    counts = sp.csr_matrix((rng.integers(0, 3, (N, WORDS)) * (rng.random((N, WORDS)) < 0.3)).astype(np.int32))
    bow = BagOfWords(np.array([f"u{r}" for r in range(N)]), counts, np.zeros(N, np.int32))
    return TrainingData(views, [0.4, 0.6], bow, "bow.npz", keep=np.arange(N) % 4 != 1)


@pytest.mark.parametrize("workers", [1, 3])
def test_the_pool_streams_the_serial_batches_batch_for_batch(data, workers):
    parallel = list(data.batches(9, np.random.default_rng(5), CPU, chunk_batches=2, workers=workers))
    serial = list(data.serial_batches(9, np.random.default_rng(5), CPU, chunk_batches=2))
    assert len(parallel) == len(serial) > 6
    for got, want in zip(parallel, serial):
        assert got.tokens == want.tokens
        for g, w in zip(got.tensors(), want.tensors()):
            assert g.dtype == w.dtype and torch.equal(g, w)
    assert sum(b.x.shape[0] for b in parallel) == 2 * len(data)


def test_reads_into_an_array_equal_plain_reads(data):
    view = data.views[0].view
    assert view.row_group_starts().tolist() == [0, 7, 14, 21, 28, 35, 40, 47, 54, 61, 68, 75, 80, 87, 94]
    for lo, hi in [(0, N), (3, 45), (39, 41), (40, 80), (77, 101), (12, 12)]:
        out = np.full((hi - lo, DIM), np.nan, dtype=np.float32)  # every value must be written
        assert view.read_rows(lo, hi, out) is out
        np.testing.assert_array_equal(out, view.read_rows(lo, hi))
    aligned = data.views[1]
    out = np.full((30, DIM), np.nan, dtype=np.float32)
    np.testing.assert_array_equal(aligned.read_rows(40, 70, out), aligned.read_rows(40, 70))
    assert not out[57 - 40].any() and out[59 - 40].all()  # a skipped row reads as zeros
    with pytest.raises(ValueError, match="out is"):
        view.read_rows(0, 5, np.empty((4, DIM), dtype=np.float32))
