"""Resident training data: the same rows, weights and counts as the streamed path, gathered on
the device; the memory budget that chooses between them; 16-bit storage and its error."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.shards import ViewEmbeddings, shard_name, write_manifest, write_shard
from flip_pipeline.training.batches import Batch, TrainingData, stack_views
from flip_pipeline.training.resident import ConversionError, ResidentData, resident_bytes, resident_or_streamed

CPU = torch.device("cpu")
N, DIM, WORDS = 47, 6, 11
WEIGHTS = [0.25, 0.75]
SKIPPED = [4, 30]  # rows the second view's encoder skipped


def _write_view(folder: Path, view: int, rows: list[int], scale: float = 1.0) -> ViewEmbeddings:
    """Column 0 is the corpus row, column 1 the view (exact in every storage dtype), the rest noise."""
    rng = np.random.default_rng(view)
    x = rng.standard_normal((len(rows), DIM)).astype(np.float32) * scale
    x[:, 0], x[:, 1] = rows, view
    ids = [f"u{r}" for r in rows]
    shards = []
    for i, lo in enumerate(range(0, len(rows), 15)):
        write_shard(folder / shard_name(i), ids[lo : lo + 15], x[lo : lo + 15], {})
        shards.append((shard_name(i), len(ids[lo : lo + 15])))
    skipped = [{"id": f"u{r}", "reason": "bad audio"} for r in range(N) if r not in rows]
    write_manifest(folder, shards, {"dim": DIM, "view": f"v{view}", "skipped": skipped})
    return ViewEmbeddings(folder)


def _bow() -> BagOfWords:
    rng = np.random.default_rng(9)
    dense = rng.integers(0, 3, size=(N, WORDS)) * (rng.random((N, WORDS)) < 0.3)
    dense[8] = 0  # a kept sentence without an in-vocabulary word
    return BagOfWords(np.array([f"u{r}" for r in range(N)]), sp.csr_matrix(dense.astype(np.int32)),
                      np.zeros(N, np.int32))


@pytest.fixture
def data(tmp_path) -> TrainingData:
    views = [_write_view(tmp_path / "a", 0, list(range(N))),
             _write_view(tmp_path / "b", 1, [r for r in range(N) if r not in SKIPPED])]
    keep = np.arange(N) % 5 != 2  # the sim_threshold filter
    return TrainingData(views, WEIGHTS, _bow(), "bow.npz", keep)


def _entries(batch: Batch) -> Counter:
    """Multiset of (corpus row, view, its (word, weighted count) pairs, weighted total) of a batch."""
    x, rows = batch.x.float(), batch.rows.tolist()
    out = Counter()
    for r in range(x.shape[0]):
        at = [i for i, row in enumerate(rows) if row == r]
        pairs = tuple(sorted((int(batch.cols[i]), float(batch.vals[i])) for i in at))
        out[(int(x[r, 0]), int(x[r, 1]), pairs, float(batch.totals[r]))] += 1
    return out


def _epoch(batches) -> Counter:
    return sum((_entries(b) for b in batches), Counter())


def _expected(data: TrainingData) -> Counter:
    counts = data.bow.counts
    out = Counter()
    for r in np.flatnonzero(data.keep):
        row = counts[r]
        for v, w in enumerate(WEIGHTS):
            pairs = tuple(sorted((int(c), float(n) * w) for c, n in zip(row.indices, row.data)))
            out[(int(r), v, pairs, float(row.data.sum()) * w)] += 1
    return out


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_a_resident_epoch_has_every_kept_row_once_as_the_streamed_epoch(data, dtype):
    resident, record = resident_or_streamed(data, 1.0, dtype, CPU)
    assert record["path"] == "resident" and record["dtype"] == dtype
    seen = _epoch(resident.batches(8, np.random.default_rng(0)))
    streamed = _epoch(data.batches(8, np.random.default_rng(0), CPU, chunk_batches=2))
    expected = _expected(data)
    assert len(data) == N - 9 - 2  # 9 rows filtered (row % 5 == 2), 2 more skipped by an encoder
    assert seen == streamed == expected and max(seen.values()) == 1
    assert sum(b.tokens for b in resident.batches(8, np.random.default_rng(0))) == data.bow.counts[data.keep].sum()


def test_a_gathered_batch_is_the_streamed_batch_of_the_same_rows(data):
    resident = ResidentData(data, CPU, torch.float32)
    kept = np.flatnonzero(data.keep)
    positions = np.array([5, 0, 7, 31, 2, 19])  # position 5 is row 8, which has no word
    gathered = resident.batch_of(positions)
    rows = kept[positions]
    built = stack_views([v.read_rows(0, N)[rows] for v in data.views], WEIGHTS, data.bow.counts[rows], CPU)
    for field in ("x", "rows", "cols", "vals", "totals"):
        got, want = getattr(gathered, field), getattr(built, field)
        assert got.dtype == want.dtype and torch.equal(got, want), field
    assert gathered.tokens == built.tokens
    assert bool((gathered.rows[1:] >= gathered.rows[:-1]).all())  # train_step's searchsorted needs sorted rows


def test_batch_buffers_are_reused_only_once_nothing_refers_to_them(data):
    resident = ResidentData(data, CPU, torch.float32)
    kept = list(resident.batches(8, np.random.default_rng(0)))  # a consumer that keeps every batch
    assert len({b.x.data_ptr() for b in kept}) == len(kept) == 5
    assert _epoch(kept) == _expected(data)
    view = kept[0].x[:3]  # a view outlives its batch
    expected = view.clone()
    del kept
    ptrs = [b.x.data_ptr() for b in resident.batches(8, np.random.default_rng(0))]
    assert len(set(ptrs)) < len(ptrs)  # consumed one at a time, the buffers come round again
    assert torch.equal(view, expected)


def test_the_same_seed_gives_the_same_batches_another_seed_another_order(data):
    resident = ResidentData(data, CPU, torch.bfloat16)
    first, again, other = ([b.x for b in resident.batches(8, np.random.default_rng(s))] for s in (3, 3, 4))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])
    rng = np.random.default_rng(3)
    one, two = ([b.x for b in resident.batches(8, rng)] for _ in range(2))
    assert not torch.equal(one[0], two[0])  # each epoch is shuffled again


def test_a_budget_too_small_streams_and_says_so(data, caplog):
    needed = resident_bytes(data, torch.float32)
    assert needed == len(data) * DIM * 2 * 4 + data.bow.counts[data.keep].nnz * 8 + len(data) * 20
    assert resident_bytes(data, torch.float16) < needed
    caplog.set_level(logging.INFO, logger="flip_pipeline.training.resident")
    for budget in (0, (needed - 1) / 2**30):
        resident, record = resident_or_streamed(data, budget, "float32", CPU)
        assert resident is None and record["path"] == "streamed" and record["conversion_error"] is None
        assert record["budget_source"] == "training.resident_memory_gb" and record["needed_gb"] == needed / 2**30
    assert "streamed from the shards" in caplog.text and "over the budget of 0 GiB" in caplog.text
    resident, record = resident_or_streamed(data, needed / 2**30, "float32", CPU)
    assert resident is not None and record["path"] == "resident" and "resident on cpu" in caplog.text


def test_the_default_budget_is_half_the_memory_left(data, monkeypatch):
    monkeypatch.setattr("flip_pipeline.training.resident.available_memory", lambda device: (2**30, "test"))
    _, record = resident_or_streamed(data, None, "float32", CPU)
    assert record["budget_gb"] == 0.5 and record["budget_source"] == "0.5 x 1.00 GiB, test"


def test_the_conversion_error_of_16_bit_storage_is_measured(data, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="flip_pipeline.training.resident")
    monkeypatch.setattr(ConversionError, "BLOCK_VALUES", 13)  # two rows of d 6 at a time: several blocks
    errors = {}
    for dtype in ("float32", "float16", "bfloat16"):
        _, record = resident_or_streamed(data, 1.0, dtype, CPU)
        errors[dtype] = record["conversion_error"]
    x = np.concatenate([v.read_rows(0, N)[data.keep] for v in data.views])
    for dtype, torch_dtype in (("float16", torch.float16), ("bfloat16", torch.bfloat16)):
        stored = torch.from_numpy(x).to(torch_dtype).float().numpy()
        rms = np.sqrt(((stored - x) ** 2).sum() / (x**2).sum())
        assert errors[dtype]["relative_rms"] == pytest.approx(rms, rel=1e-6) and rms > 0
        assert errors[dtype]["max_abs"] == pytest.approx(np.abs(stored - x).max(), rel=1e-6)
    assert errors["float32"] == {"max_abs": 0.0, "relative_rms": 0.0}
    assert 0 < errors["float16"]["relative_rms"] < errors["bfloat16"]["relative_rms"] < 2**-8  # 11 vs 8 bits
    assert "conversion error: max abs" in caplog.text


def test_a_value_float16_cannot_hold_is_refused(tmp_path):
    big = _write_view(tmp_path / "big", 0, list(range(N)), scale=1e5)
    data = TrainingData([big], [1.0], _bow(), "bow.npz")
    with pytest.raises(FlipInputError, match=r"big: an embedding value exceeds 65504.*bfloat16 or float32"):
        resident_or_streamed(data, 1.0, "float16", CPU)
    assert resident_or_streamed(data, 1.0, "bfloat16", CPU)[1]["path"] == "resident"
    with pytest.raises(FlipInputError, match="training.resident_dtype: 'int8' is not one of float32, float16"):
        resident_or_streamed(data, 1.0, "int8", CPU)
