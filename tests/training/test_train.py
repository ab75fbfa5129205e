"""Training: learns, is deterministic under a seed, applies proximal L1, refuses bad input."""

import json
import logging

import numpy as np
import pytest
import torch

from flip_pipeline.corpora.sample import generate_sample_corpus
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.probes.lip import make_probe
from flip_pipeline.stages.embed import embed_stage
from flip_pipeline.stages.evaluate import evaluate_view, probe_ranker
from flip_pipeline.stages.vocab import build_vocabulary
from flip_pipeline.training.batches import TrainingData
from flip_pipeline.training.loop import TrainSettings, make_dev_set, make_optimizer, train_probe, train_step

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Sample corpus embedded by the bag-of-words control (en and de views) with an English vocabulary."""
    root = tmp_path_factory.mktemp("train")
    tables = generate_sample_corpus(900, {"train": 0.7, "dev": 0.15}, ("en", "de"), seed=3)
    vocab, _ = build_vocabulary(tables["train"].column("text_en").to_pylist(), "latin", 1000)
    out = {"vocab": vocab}
    for split, table in tables.items():
        write_corpus_table(table, root / f"{split}.parquet")
        counts, oov = vocab.bag_of_words(table.column("text_en").to_pylist())
        bow = BagOfWords(np.asarray(table.column("id").to_pylist(), dtype=str), counts, oov)
        bow.save(root / f"{split}.npz")
        for view in ("text_en", "text_de"):
            embed_stage(root / f"{split}.parquet", view, "bow", {"family": "bow_projection", "dim": 160},
                       root / split / view, shard_rows=200)
    out["root"] = root
    return out


def _data(root, split, views=("text_en", "text_de"), weights=(0.5, 0.5)):
    bow = BagOfWords.load(root / f"{split}.npz")
    return TrainingData([ViewEmbeddings(root / split / v) for v in views], list(weights), bow, "bow.npz"), bow


def _train(prepared, tmp_path, kind="flip", rank=64, **settings):
    root = prepared["root"]
    data, _ = _data(root, "train")
    dev_bow = BagOfWords.load(root / "dev.npz")
    dev = make_dev_set([ViewEmbeddings(root / "dev" / v).read_rows(0, len(dev_bow.ids)) for v in ("text_en", "text_de")],
                       dev_bow.counts, "dev.npz")
    s = TrainSettings(**{"batch_size": 64, "max_iterations": 10, "eval_every": 1, "lr": 0.03, **settings})
    return train_probe(kind, rank, data, dev, s, CPU, tmp_path / "log.jsonl")


def test_flip_learns_the_bow_control_and_logs(prepared, tmp_path):
    probe, summary = _train(prepared, tmp_path)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert log[0]["iteration"] == 0 and log[-1]["iteration"] == summary["iterations"]
    assert summary["best_dev_recall"] > log[0]["dev_recall"] + 0.3
    test, test_bow = _data(prepared["root"], "test", ("text_en",), (1.0,))
    result, details = evaluate_view(probe_ranker(probe), prepared["vocab"].words, test.views[0].view, test_bow,
                                    "test.npz")
    assert result["accuracy"]["mean"] > 0.6  # chance is about 0.05
    assert details.num_rows == len(test_bow.ids) and details.column("id").to_pylist() == test_bow.ids.tolist()


@pytest.mark.parametrize("budget_gb", [1.0, 0])  # resident, streamed
def test_same_seed_same_model_other_seed_other_model(prepared, tmp_path, budget_gb):
    a, summary = _train(prepared, tmp_path, max_iterations=2, seed=5, resident_memory_gb=budget_gb)
    b, _ = _train(prepared, tmp_path, max_iterations=2, seed=5, resident_memory_gb=budget_gb)
    c, _ = _train(prepared, tmp_path, max_iterations=2, seed=6, resident_memory_gb=budget_gb)
    assert summary["data_path"]["path"] == ("resident" if budget_gb else "streamed")
    for name, tensor in a.state_dict().items():
        torch.testing.assert_close(tensor, b.state_dict()[name], rtol=0, atol=0)
    assert not torch.equal(a.E1, c.E1)


def test_resident_16_bit_storage_trains_as_well_and_records_its_error(prepared, tmp_path):
    _, streamed = _train(prepared, tmp_path, resident_memory_gb=0)
    results = {}
    for dtype in ("float32", "float16", "bfloat16"):
        _, results[dtype] = _train(prepared, tmp_path, resident_memory_gb=1.0, resident_dtype=dtype)
        path = results[dtype]["data_path"]
        assert path["path"] == "resident" and path["dtype"] == dtype
        assert abs(results[dtype]["best_dev_recall"] - streamed["best_dev_recall"]) < 0.02
    first = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[0])
    assert first["data_path"] == results["bfloat16"]["data_path"]
    assert 0 < results["float16"]["data_path"]["conversion_error"]["relative_rms"] < 2**-11
    assert 0 < results["bfloat16"]["data_path"]["conversion_error"]["relative_rms"] < 2**-8
    assert results["float32"]["data_path"]["conversion_error"]["max_abs"] == 0


def test_a_budget_too_small_trains_streamed_and_logs_why(prepared, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="flip_pipeline.training.resident")
    _, summary = _train(prepared, tmp_path, max_iterations=1, resident_memory_gb=1e-6)
    assert summary["data_path"]["path"] == "streamed" and summary["data_path"]["budget_gb"] == pytest.approx(1e-6, rel=1e-3)
    assert "training data: streamed from the shards" in caplog.text
    assert "over the budget of 9.993e-07 GiB (training.resident_memory_gb)" in caplog.text  # 1e-6 GiB: 1073 bytes


def test_bf16_training_tracks_fp32(prepared, tmp_path):
    _, fp32 = _train(prepared, tmp_path, max_iterations=3)
    _, bf16 = _train(prepared, tmp_path, max_iterations=3, precision="bf16")
    assert abs(fp32["best_dev_recall"] - bf16["best_dev_recall"]) < 0.02


def test_proximal_l1_makes_exact_zeros(prepared, tmp_path):
    _train(prepared, tmp_path, kind="lip", rank=None, max_iterations=2, l1=2.0)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert log[-1]["word_matrix_zeros"] > 0.5  # (the returned best-on-dev model may predate them)
    p = make_probe("flip", 3, 2, 2)
    with torch.no_grad():
        p.E1.copy_(torch.tensor([[0.5, -0.05], [-0.3, 0.1], [0.0, 2.0]]))
    p.prox_l1(0.1)
    torch.testing.assert_close(p.E1.detach(), torch.tensor([[0.4, 0.0], [-0.2, 0.0], [0.0, 1.9]]))


def test_proximal_l1_in_one_pass_gives_the_two_pass_values_bit_for_bit():
    g = torch.Generator().manual_seed(3)
    p = make_probe("flip", 300, 64, 64)
    threshold = 0.01
    with torch.no_grad():
        p.E1.copy_(torch.randn(300, 64, generator=g) * 0.02)
        p.E1[0, :6] = torch.tensor([threshold, -threshold, 0.0, -0.0, threshold / 2, -threshold * 1.0000001])
    want = p.E1.detach().clone()
    want.sub_(want.clamp(-threshold, threshold))  # the formula before: E - clamp(E, -t, t)
    p.prox_l1(threshold)
    assert torch.equal(p.E1.detach().view(torch.int32), want.view(torch.int32))  # zeros +0 alike
    assert 0.2 < float((p.E1 == 0).float().mean()) < 0.6


def test_row_chunked_step_equals_one_piece_step(prepared):
    data, _ = _data(prepared["root"], "train")
    batch = next(data.batches(100, np.random.default_rng(0), CPU))
    probes = []
    for memory_mb in (1024, 0.02):  # 0.02 MB holds ~20 rows of logits: several chunks
        torch.manual_seed(0)
        probe = make_probe("flip", data.bow.counts.shape[1], data.dim, 8)
        settings = TrainSettings(logits_memory_mb=memory_mb)
        loss = train_step(probe, make_optimizer(probe, settings), batch, settings)
        probes.append((probe, loss))
    (one, loss_one), (chunked, loss_chunked) = probes
    assert np.isclose(loss_one, loss_chunked, rtol=1e-5)
    for name, tensor in one.state_dict().items():
        torch.testing.assert_close(tensor, chunked.state_dict()[name], rtol=1e-5, atol=1e-6)


def test_bias_starts_at_the_log_unigram_distribution():
    p = make_probe("lip", 3, 4)
    p.init_bias_log_unigram(np.array([1, 3, 0]))
    expected = np.log((np.array([1, 3, 0]) + 1e-8) / (4 + 3e-8))
    np.testing.assert_allclose(p.b.detach().numpy().ravel(), expected, rtol=1e-6)


def test_batches_are_shuffled_between_epochs_and_cover_every_row(prepared):
    data, bow = _data(prepared["root"], "train")
    rng = np.random.default_rng(0)
    first_view = lambda b: b.x[: b.x.shape[0] // 2].clone()  # noqa: E731  (views are stacked)
    first = [first_view(b) for b in data.batches(64, rng, CPU, chunk_batches=2)]
    second = [first_view(b) for b in data.batches(64, rng, CPU, chunk_batches=2)]
    assert sum(len(x) for x in first) == len(bow.ids)
    assert not torch.equal(first[0], second[0])
    seen = torch.cat(first)
    everything = torch.from_numpy(data.views[0].read_rows(0, len(data)))
    assert torch.equal(seen[seen[:, 0].argsort()], everything[everything[:, 0].argsort()])


def test_similarity_filter_trains_on_kept_rows_only(prepared):
    _, bow = _data(prepared["root"], "train")
    keep = np.arange(len(bow.ids)) % 3 == 0
    data = TrainingData([ViewEmbeddings(prepared["root"] / "train" / "text_en")], [1.0], bow, "bow.npz", keep)
    assert len(data) == keep.sum()
    seen = torch.cat([b.x for b in data.batches(50, np.random.default_rng(0), CPU, chunk_batches=2)])
    kept = torch.from_numpy(data.views[0].read_rows(0, len(bow.ids))[keep])
    assert torch.equal(seen[seen[:, 0].argsort()], kept[kept[:, 0].argsort()])
    np.testing.assert_array_equal(data.word_counts(), np.asarray(bow.counts[keep].sum(axis=0)).ravel())


def test_misaligned_ids_and_mismatched_dimensions_are_refused(prepared, tmp_path):
    root = prepared["root"]
    bow = BagOfWords.load(root / "train.npz")
    shuffled = BagOfWords(bow.ids[::-1].copy(), bow.counts, bow.oov_types)
    with pytest.raises(FlipInputError, match="first differ at embedding row 0"):
        TrainingData([ViewEmbeddings(root / "train" / "text_en")], [1.0], shuffled, "shuffled.npz")
    embed_stage(root / "train.parquet", "text_de", "bow8", {"family": "bow_projection", "dim": 8},
               tmp_path / "de8", shard_rows=200)
    with pytest.raises(FlipInputError, match="different embedding dimensions"):
        TrainingData([ViewEmbeddings(root / "train" / "text_en"), ViewEmbeddings(tmp_path / "de8")], [0.5, 0.5],
                     bow, "bow.npz")
    with pytest.raises(FlipInputError, match="weight 0"):
        TrainingData([ViewEmbeddings(root / "train" / "text_en")], [0.0], bow, "bow.npz")


def test_tf32_trains_as_fp32_on_a_cpu_and_an_unknown_precision_is_refused(prepared):
    data, _ = _data(prepared["root"], "train")
    batch = next(data.batches(100, np.random.default_rng(0), CPU))
    states = []
    for precision in ("fp32", "tf32"):
        torch.manual_seed(0)
        probe = make_probe("flip", data.bow.counts.shape[1], data.dim, 8)
        settings = TrainSettings(precision=precision)
        loss = train_step(probe, make_optimizer(probe, settings), batch, settings)
        assert loss.shape == () and loss.device == CPU  # left on the device: the host does not wait
        states.append(probe.state_dict())
    for name, tensor in states[0].items():
        assert torch.equal(tensor, states[1][name]), name
    assert TrainSettings().precision == "tf32"
    with pytest.raises(FlipInputError, match="training.precision: 'fp16' is not one of fp32, tf32, bf16"):
        TrainSettings(precision="fp16")


def test_matmul_precision_sets_cublas_around_the_block_only():
    from flip_pipeline.training.precision import matmul_precision

    cublas = torch.backends.cuda.matmul
    before = cublas.fp32_precision
    with matmul_precision("tf32", torch.device("cuda")):
        assert cublas.fp32_precision == "tf32"
    with pytest.raises(RuntimeError, match="inside"), matmul_precision("fp32", torch.device("cuda")):
        assert cublas.fp32_precision == "ieee"
        raise RuntimeError("inside")
    assert cublas.fp32_precision == before
    with matmul_precision("tf32", CPU):  # no CUDA device: nothing is set
        assert cublas.fp32_precision == before


def test_the_logit_budget_is_set_or_follows_the_device(monkeypatch):
    from flip_pipeline.training import loop

    assert loop.logits_budget_mb(None, CPU) == loop.CPU_LOGITS_MB and loop.logits_budget_mb(5, CPU) == 5.0
    monkeypatch.setattr(loop, "available_memory", lambda device: (8 * 2**30, "free memory of the GPU"))
    assert loop.logits_budget_mb(None, torch.device("cuda")) == loop.GPU_LOGITS_SHARE * 8 * 1024
