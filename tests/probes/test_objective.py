"""The fused objective equals the paper's plain per-view step, in value and gradient."""

import pytest
import torch

from flip_pipeline.probes.objective import reference_view_nll, weighted_count_nll


def _problem(seed=0, batch=37, vocab=53, dim=11, rank=7):
    g = torch.Generator().manual_seed(seed)
    e1 = torch.randn(vocab, rank, generator=g, dtype=torch.float64) * 0.3
    e2 = torch.randn(rank, dim, generator=g, dtype=torch.float64) * 0.3
    b = torch.randn(vocab, 1, generator=g, dtype=torch.float64)
    x1 = torch.randn(batch, dim, generator=g, dtype=torch.float64)
    x2 = torch.randn(batch, dim, generator=g, dtype=torch.float64)
    counts = torch.randint(0, 3, (batch, vocab), generator=g) * (torch.rand(batch, vocab, generator=g) < 0.1)
    counts[3] = 0  # a sentence without in-vocabulary words contributes nothing
    rows, cols = counts.nonzero(as_tuple=True)
    vals = counts[rows, cols].double()
    return e1, e2, b, x1, x2, rows, cols, vals


def _fused(e1, e2, b, xs, weights, rows, cols, vals, bf16=False):
    n = xs[0].shape[0]
    totals = torch.zeros(n, dtype=vals.dtype).index_add_(0, rows, vals)
    x = torch.cat(xs)
    all_rows = torch.cat([rows + i * n for i in range(len(xs))])
    loss = weighted_count_nll(
        x @ e2.T, e1, b.view(-1), all_rows, cols.repeat(len(xs)),
        torch.cat([vals * w for w in weights]), torch.cat([totals * w for w in weights]), bf16,
    )
    return loss


@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.3])
def test_fused_matches_reference_value_and_gradients(alpha):
    e1, e2, b, x1, x2, rows, cols, vals = _problem()
    params = [p.requires_grad_() for p in (e1, e2, b)]
    ref = alpha * reference_view_nll(e1, e2, b, x1, rows, cols, vals) + (1 - alpha) * reference_view_nll(
        e1, e2, b, x2, rows, cols, vals
    )
    ref_grads = torch.autograd.grad(ref, params)
    fused = _fused(e1, e2, b, [x1, x2], [alpha, 1 - alpha], rows, cols, vals)
    fused_grads = torch.autograd.grad(fused, params)
    torch.testing.assert_close(fused, ref, rtol=1e-10, atol=1e-10)
    for got, want in zip(fused_grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_lip_form_matches_reference():
    e1, e2, b, x1, _, rows, cols, vals = _problem(seed=1)
    e = (e1 @ e2).detach().requires_grad_()
    bias = b.detach().requires_grad_()
    ref = reference_view_nll(e, None, bias, x1, rows, cols, vals)
    ref_grads = torch.autograd.grad(ref, [e, bias])
    totals = torch.zeros(x1.shape[0], dtype=vals.dtype).index_add_(0, rows, vals)
    fused = weighted_count_nll(x1, e, bias.view(-1), rows, cols, vals, totals)
    torch.testing.assert_close(fused, ref)
    for got, want in zip(torch.autograd.grad(fused, [e, bias]), ref_grads):
        torch.testing.assert_close(got, want)


def test_bf16_stays_close_to_fp32():
    e1, e2, b, x1, x2, rows, cols, vals = (
        t.float() if t.is_floating_point() else t for t in _problem(seed=2, vocab=400, dim=64, rank=32)
    )
    params = [p.requires_grad_() for p in (e1, e2, b)]
    exact = _fused(e1, e2, b, [x1, x2], [0.5, 0.5], rows, cols, vals)
    exact_grads = torch.autograd.grad(exact, params)
    low = _fused(e1, e2, b, [x1, x2], [0.5, 0.5], rows, cols, vals, bf16=True)
    low_grads = torch.autograd.grad(low, params)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, exact, rtol=2e-2, atol=0)
    for got, want in zip(low_grads, exact_grads):
        cos = torch.nn.functional.cosine_similarity(got.flatten(), want.flatten(), dim=0)
        assert cos > 0.999


def test_weight_zero_view_contributes_nothing():
    e1, e2, b, x1, x2, rows, cols, vals = _problem(seed=3)
    one = _fused(e1, e2, b, [x1], [1.0], rows, cols, vals)
    two = _fused(e1, e2, b, [x1, x2], [1.0, 0.0], rows, cols, vals)
    torch.testing.assert_close(one, two)


@pytest.mark.parametrize("bf16", [False, True])
def test_row_blocks_give_the_one_block_value_and_gradients(monkeypatch, bf16):
    """On a CPU the elementwise passes run on row blocks (uneven last block here); the
    result is that of one block: exactly in fp64, to bf16 rounding with bf16 products."""
    from flip_pipeline.probes import objective

    dtype = torch.float32 if bf16 else torch.float64
    e1, e2, b, x1, x2, rows, cols, vals = (
        t.to(dtype) if t.is_floating_point() else t for t in _problem(seed=4, batch=29, vocab=61)
    )
    params = [p.requires_grad_() for p in (e1, e2, b)]
    results = {}
    for block_rows in (None, 4):
        if block_rows:
            monkeypatch.setattr(objective, "CPU_BLOCK_BYTES", block_rows * 61 * torch.finfo(dtype).bits // 8)
        loss = _fused(e1, e2, b, [x1, x2], [0.5, 0.5], rows, cols, vals, bf16=bf16)
        results[block_rows] = (loss, torch.autograd.grad(loss, params))
    assert len(objective._row_blocks(torch.empty(58, 61), dtype)) == 15  # 2 x 29 rows in blocks of 4
    (one, one_grads), (blocked, blocked_grads) = results[None], results[4]
    tolerance = {"rtol": 1e-3, "atol": 1e-4} if bf16 else {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(blocked, one, **tolerance)
    for got, want in zip(blocked_grads, one_grads):
        torch.testing.assert_close(got, want, **tolerance)
