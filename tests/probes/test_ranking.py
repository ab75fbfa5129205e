"""Keyword ranking in chunks of bounded memory ranks as one pass over every row does, and every
ranking stage takes the device to rank on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flip_pipeline.cli import build_parser
from flip_pipeline.probes.lip import make_probe
from flip_pipeline.probes.ranking import top_words


@pytest.mark.parametrize("use_bias", [False, True])
def test_chunked_ranking_is_the_one_pass_ranking(use_bias):
    torch.manual_seed(0)
    probe = make_probe("flip", 300, 16, 8).eval()
    x = np.random.default_rng(0).standard_normal((53, 16)).astype(np.float32)
    with torch.no_grad():
        scores = probe.logits(torch.from_numpy(x), use_bias=use_bias).numpy()
    want = np.argsort(-scores, axis=1, kind="stable")[:, :40]  # random scores: no ties
    one_pass = top_words(probe, x, 40, use_bias=use_bias)
    chunked = top_words(probe, x, 40, use_bias=use_bias, logits_memory_mb=7 * 300 * 4 / 2**20)  # 7 rows a chunk
    np.testing.assert_array_equal(one_pass, want)
    np.testing.assert_array_equal(chunked, want)
    assert top_words(probe, x, 1000).shape == (53, 300)  # depth clipped to the vocabulary


@pytest.mark.parametrize("command", [
    ["evaluate", "--model-dir", "m", "--embeddings", "e", "--bow", "b.npz", "--out", "o.json"],
    ["entity-recall", "--model-dir", "m", "--embeddings", "e", "--entities", "x.jsonl", "--out", "o.json"],
    ["keywords", "--model", "m", "--embeddings", "e.parquet"],
])
def test_ranking_commands_take_a_device(command):
    parser = build_parser()
    assert parser.parse_args(command).device == "auto"
    assert parser.parse_args([*command, "--device", "cuda:1"]).device == "cuda:1"
