"""The Triton passes of the objective against today's torch passes, run on the CPU by Triton's
interpreter (``TRITON_INTERPRET=1``): the same loss and gradients, to float tolerance.

Shapes are small (the interpreter runs every program in numpy) but cover several column groups
and row groups of the kernels, with ragged edges, one and two views, fp64, fp32 and bf16.
"""

from __future__ import annotations

import pytest
import torch

from flip_pipeline.probes import objective
from flip_pipeline.probes.objective import weighted_count_nll


@pytest.fixture
def passes():
    """:mod:`flip_pipeline.probes.fused_passes`: compiled on a GPU, else interpreted on the CPU
    (``tests/conftest.py`` sets ``TRITON_INTERPRET=1`` where there is no GPU)."""
    pytest.importorskip("triton")
    from flip_pipeline.probes import fused_passes

    return fused_passes


DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _problem(seed, batch, vocab, rank, dtype):
    g = torch.Generator().manual_seed(seed)
    words = (torch.randn(vocab, rank, generator=g, dtype=torch.float64) * 0.5).to(dtype)
    hidden = torch.randn(2 * batch, rank, generator=g, dtype=torch.float64).to(dtype)
    bias = torch.randn(vocab, generator=g, dtype=torch.float64).to(dtype)
    counts = torch.randint(1, 4, (2 * batch, vocab), generator=g) * (torch.rand(2 * batch, vocab, generator=g) < 0.02)
    counts[5] = 0  # a row without in-vocabulary words
    rows, cols = counts.nonzero(as_tuple=True)
    weights = torch.where(rows < batch, 0.3, 0.7).to(dtype)  # two views, eq. 4's weights
    vals = counts[rows, cols].to(dtype) * weights
    totals = torch.zeros(2 * batch, dtype=dtype).index_add_(0, rows, vals)
    return tuple(t.to(DEVICE) for t in (hidden, words, bias, rows, cols, vals, totals))


def _loss_and_grads(problem, bf16, elementwise):
    hidden, words, bias, rows, cols, vals, totals = problem
    params = [t.clone().requires_grad_() for t in (hidden, words, bias)]
    loss = weighted_count_nll(*params, rows, cols, vals, totals, bf16=bf16, elementwise=elementwise)
    return loss, torch.autograd.grad(loss, params)


def _relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    """``‖got − want‖ / ‖want‖`` (float64)."""
    got, want = got.detach().double(), want.detach().double()
    return float(torch.linalg.vector_norm(got - want) / torch.linalg.vector_norm(want))


@pytest.mark.parametrize(("dtype", "bf16", "tolerance"), [
    (torch.float64, False, 1e-12),
    (torch.float32, False, 1e-5),
    (torch.float32, True, 1e-2),  # today's torch passes round exp(z - max) to bf16 before summing it
])
def test_fused_passes_give_the_torch_passes_loss_and_gradients(passes, dtype, bf16, tolerance):
    # 2 x 70 rows: two row groups of the gradient kernel; W 4500: two column groups of the
    # log-sum-exp kernel and nine column blocks of the gradient kernel, each last one ragged
    problem = _problem(seed=0, batch=70, vocab=4500, rank=16, dtype=dtype)
    want, want_grads = _loss_and_grads(problem, bf16, "torch")
    got, got_grads = _loss_and_grads(problem, bf16, "fused")
    assert got.dtype == want.dtype == dtype
    assert _relative_error(got, want) < tolerance
    for name, g, w in zip(("hidden", "words", "bias"), got_grads, want_grads):
        assert torch.isfinite(g).all() and _relative_error(g, w) < tolerance, name


def test_passes_write_every_value_and_reduce_exactly(passes):
    g = torch.Generator().manual_seed(1)
    z = (torch.randn(37, 4200, generator=g, dtype=torch.float64) * 4).to(DEVICE)
    z[3, :100] = float("-inf")  # a masked stretch of a row: exp 0, the row's lse unchanged
    lse = passes.row_logsumexp(z)
    torch.testing.assert_close(lse, torch.logsumexp(z, dim=1), rtol=1e-13, atol=1e-13)
    coef = torch.rand(37, generator=g, dtype=torch.float64).to(DEVICE)
    buffer = z.clone()
    colsum = passes.softmax_grad_(buffer, lse, coef)
    want = coef[:, None] * torch.softmax(z, dim=1)
    torch.testing.assert_close(buffer, want, rtol=1e-12, atol=1e-15)  # every value written
    torch.testing.assert_close(colsum, want.sum(dim=0), rtol=1e-12, atol=1e-15)


def test_auto_takes_the_torch_passes_on_a_cpu():
    assert not objective.use_fused("auto", torch.device("cpu"))
    assert objective.use_fused("fused", torch.device("cpu"))
    with pytest.raises(ValueError, match="elementwise"):
        objective.use_fused("triton", torch.device("cpu"))
