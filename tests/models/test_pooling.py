"""Masked mean pooling and layer selection, without a model."""

import numpy as np
import pytest
import torch

from flip_pipeline.errors import FlipInputError
from flip_pipeline.models.layer_encoder import lengths_mask, masked_mean, select_layers
from flip_pipeline.models.layer_names import stack_names


def test_masked_mean_ignores_padding_whatever_it_holds():
    rng = np.random.default_rng(0)
    real = [torch.from_numpy(rng.standard_normal((t, 5)).astype(np.float32)) for t in (3, 7, 1)]
    width = 9
    for fill in (0.0, 1e6, float("nan")):
        padded = torch.full((3, width, 5), fill)
        for row, seq in enumerate(real):
            padded[row, : len(seq)] = seq
        mask = lengths_mask(torch.tensor([len(s) for s in real]), width)
        pooled = masked_mean(padded, mask)
        assert pooled.dtype == torch.float32 and pooled.shape == (3, 5)
        for row, seq in enumerate(real):
            torch.testing.assert_close(pooled[row], seq.mean(dim=0))  # as if alone, unpadded


def test_masked_mean_pools_in_float32_and_refuses_an_empty_row():
    hidden = torch.ones((1, 4, 2), dtype=torch.bfloat16)
    assert masked_mean(hidden, torch.tensor([[1, 1, 0, 0]])).dtype == torch.float32
    with pytest.raises(ValueError, match="no unpadded position"):
        masked_mean(hidden, torch.zeros((1, 4)))


def test_select_layers_keeps_model_order_and_names_what_is_missing():
    available = stack_names(3) + ["pooled"]
    assert available == ["embeddings", "layer_01", "layer_02", "layer_03", "pooled"]
    assert select_layers("all", available, "m", "text_en") == available
    assert select_layers(["pooled", "layer_02", "embeddings"], available, "m", "text_en") == [
        "embeddings", "layer_02", "pooled"]
    with pytest.raises(FlipInputError, match=r"encoder 'm', view 'text_en' has no layer 'layer_24', 'adaptor'; "
                                             r"its layers: embeddings, layer_01, layer_02, layer_03, pooled"):
        select_layers(["layer_24", "adaptor", "layer_01"], available, "m", "text_en")
    with pytest.raises(FlipInputError, match="'all' or a non-empty list"):
        select_layers([], available, "m", "text_en")
