"""The pair stage (cosine per id between two embedded views) and the sim_threshold selection."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers.shards import write_view

from flip_pipeline.cli import main
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.pair_scores import read_pair_scores, sim_name, similarity_mask
from flip_pipeline.stages.pair import cosine_rows, pair_stage


@pytest.fixture
def views(tmp_path):
    rng = np.random.default_rng(1)
    ids = [f"c-{i:04d}" for i in range(30)]
    a = rng.normal(size=(30, 8)).astype(np.float32)
    b = (a + rng.normal(size=(30, 8))).astype(np.float32)
    b[3] = -a[3]  # opposite: cosine -1
    b[5] = 0.0  # zero vector: cosine 0 by convention
    base = tmp_path / "embeddings" / "toy" / "c" / "train"
    dir_a = write_view(base / "text_en", ids, a, "text_en")
    return ids, a, b, dir_a, write_view(base / "speech_en", ids, b, "speech_en")


def test_pair_views_cosine_per_id(views, tmp_path):
    ids, a, b, dir_a, dir_b = views
    out = dir_a.parent / sim_name("text_en", "speech_en")
    summary = pair_stage(dir_a, dir_b, out)
    got_ids, cosine = read_pair_scores(out)
    expected = np.array([x @ y / (np.linalg.norm(x) * np.linalg.norm(y)) if np.linalg.norm(y) else 0.0
                         for x, y in zip(a.astype(np.float64), b.astype(np.float64))])
    assert got_ids.tolist() == ids and np.allclose(cosine, expected, atol=1e-6)
    assert cosine[3] == pytest.approx(-1.0) and cosine[5] == 0.0
    assert summary["rows"] == 30 and summary["view_a"] == "text_en"
    meta = pq.read_schema(out).metadata
    assert meta[b"flip.view_b"] == b"speech_en" and meta[b"flip.source"] == b"pair"
    assert out.name == "sim_text_en__speech_en.parquet"


def test_pair_views_rejects_mismatched_views(views, tmp_path):
    ids, _, b, dir_a, _ = views
    other = write_view(tmp_path / "other", ids[::-1], b[::-1], "speech_en")
    with pytest.raises(FlipInputError, match=r"differ in ids at row 0 \('c-0000' vs 'c-0029'\)"):
        pair_stage(dir_a, other, tmp_path / "x.parquet")
    short = write_view(tmp_path / "short", ids[:10], b[:10], "speech_en")
    with pytest.raises(FlipInputError, match="has 30 rows but .* has 10"):
        pair_stage(dir_a, short, tmp_path / "x.parquet")
    wide = write_view(tmp_path / "wide", ids, np.ones((30, 4), np.float32), "speech_en")
    with pytest.raises(FlipInputError, match="dimension 8 .* has 4"):
        pair_stage(dir_a, wide, tmp_path / "x.parquet")
    with pytest.raises(FlipInputError, match="no _SUCCESS manifest"):
        pair_stage(dir_a, tmp_path / "absent", tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


def test_sim_threshold_selection_is_strict_and_aligned(views, tmp_path):
    ids, _, _, dir_a, dir_b = views
    out = tmp_path / "sim.parquet"
    pair_stage(dir_a, dir_b, out)
    _, cosine = read_pair_scores(out)
    mask = similarity_mask(out, ids, 0.0)
    assert np.array_equal(mask, cosine > 0.0) and not mask[5] and not mask[3]
    rows = np.flatnonzero(similarity_mask(out, ids, 0.5))  # the rows trained on
    assert np.array_equal(rows, np.flatnonzero(cosine > 0.5))
    # training ids in another order or a subset: scores are looked up by id
    subset = [ids[7], ids[3], ids[20]]
    assert similarity_mask(out, subset, -2.0).tolist() == [True, True, True]
    assert similarity_mask(out, subset, 0.0).tolist() == [cosine[7] > 0, False, cosine[20] > 0]
    with pytest.raises(FlipInputError, match="no similarity score for 1 training id"):
        similarity_mask(out, ["c-9999"], 0.0)


def test_cosine_rows_handles_float16_and_zero_rows():
    a = np.array([[1, 0], [0, 0], [3, 4]], dtype=np.float16)
    b = np.array([[2, 0], [1, 1], [4, 3]], dtype=np.float32)
    assert cosine_rows(a, b).tolist() == pytest.approx([1.0, 0.0, 24 / 25])


def test_cli_pair(views, tmp_path, capsys):
    _, _, _, dir_a, dir_b = views
    out = tmp_path / "cli" / "sim.parquet"
    assert main(["pair", "--a", str(dir_a), "--b", str(dir_b), "--out", str(out)]) == 0
    assert pq.read_table(out).num_rows == 30
    assert main(["pair", "--a", str(dir_a), "--b", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "flip pair: error:" in capsys.readouterr().err
