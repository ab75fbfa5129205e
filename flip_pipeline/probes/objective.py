"""The softmax bag-of-words objective of the paper (eqs. 1–4), in one place.

For a sentence embedding ``x`` with bag of words ``c`` (counts over ``W`` words), the
probe's logits are ``z = E h(x) + b`` where ``h`` is the identity (LiP, ``E`` W×d) or the
factor ``E2`` (FLiP, ``h(x) = E2 x``, ``E = E1`` W×r). The log-likelihood is

    log p(c | x) = Σ_w c_w log softmax(z)_w = Σ_w c_w z_w − n · logsumexp(z),  n = Σ_w c_w

and eq. 4 weighs two views of the same sentence: ``α · log p(c | x₁) + (1 − α) · log p(c | x₂)``
(:func:`view_weights`; the training batches scale each view's counts by its weight).

:func:`weighted_count_nll` computes the negative of that sum over a batch with a fused
forward/backward that keeps a single ``(N, W)`` buffer and never forms ``log_softmax``.
Its elementwise passes over that buffer run one of two ways (``elementwise``):

* ``torch``: torch ops (max, subtract, exp, sums; scale, column sums), on a CPU in row blocks
  that stay in cache (:func:`_blockwise`); on a GPU each op is one pass over the whole buffer;
* ``fused``: two Triton kernels (:mod:`flip_pipeline.probes.fused_passes`), one read of the
  buffer forward and one read and write backward, every value computed in fp32.

``auto`` (the default) takes ``fused`` on a CUDA device where Triton runs (:func:`fused_available`),
else ``torch``. :func:`reference_view_nll` is the same objective written plainly, the way the
published code computes it; tests and ``benchmarks/train_step.py`` compare them.
"""

from __future__ import annotations

import functools
import importlib.util

import torch

#: ``elementwise`` choices of :func:`weighted_count_nll`.
ELEMENTWISE = ("auto", "fused", "torch")
#: Oldest CUDA compute capability the fused passes are used on (Triton's own floor, Turing).
FUSED_MIN_CAPABILITY = (7, 5)


def view_weights(alpha: float, n_views: int) -> list[float]:
    """Eq. 4's weight of each training view: ``[α, 1 − α]`` for two views, ``[1]`` for one."""
    if n_views == 1:
        return [1.0]
    if n_views == 2:
        return [alpha, 1.0 - alpha]
    raise ValueError(f"eq. 4 mixes one or two views, got {n_views}")


@functools.lru_cache(maxsize=None)
def fused_available(device: torch.device) -> bool:
    """Whether the Triton passes run on ``device``: a CUDA device of compute capability at least
    :data:`FUSED_MIN_CAPABILITY`, with Triton installed."""
    if device.type != "cuda" or importlib.util.find_spec("triton") is None:
        return False
    return torch.cuda.get_device_capability(device) >= FUSED_MIN_CAPABILITY


def use_fused(elementwise: str, device: torch.device) -> bool:
    """Whether ``elementwise`` (one of :data:`ELEMENTWISE`) takes the fused passes on ``device``.

    ``fused`` is taken as asked (on a CPU that runs only under ``TRITON_INTERPRET=1``, as in the tests)."""
    if elementwise not in ELEMENTWISE:
        raise ValueError(f"elementwise {elementwise!r}; expected one of {', '.join(ELEMENTWISE)}")
    return elementwise == "fused" or (elementwise == "auto" and fused_available(device))


#: Bytes of one row block of the elementwise passes on a CPU (in the accumulation dtype):
#: small enough to stay in cache, large enough that the per-block overhead is negligible.
CPU_BLOCK_BYTES = 8 * 2**20


def _row_blocks(z: torch.Tensor, acc: torch.dtype) -> list[tuple[int, int]]:
    """Row ranges of a CPU ``z`` ``(N, W)`` for the elementwise passes, each of at most
    :data:`CPU_BLOCK_BYTES` in the accumulation dtype ``acc``."""
    n_rows, n_cols = z.shape
    step = max(1, CPU_BLOCK_BYTES // (n_cols * torch.finfo(acc).bits // 8))
    return [(lo, min(n_rows, lo + step)) for lo in range(0, n_rows, step)]


def _blockwise(z: torch.Tensor, acc: torch.dtype, update) -> None:
    """Apply ``update(block, lo, hi)`` in place to the rows ``lo:hi`` of ``z`` ``(N, W)``.

    On an accelerator the whole buffer is one block in its own dtype (one kernel per op, no
    second copy of the buffer). On a CPU the rows go in blocks of :data:`CPU_BLOCK_BYTES`; a
    bf16 ``z`` is converted block by block into one reused ``acc`` buffer and written back:
    there bf16 ``exp`` is ten times slower than fp32 ``exp``, and a whole-matrix conversion is
    memory-bound. ``update`` reduces in ``acc`` whatever dtype ``block`` has.
    """
    if z.device.type != "cpu":
        update(z, 0, z.shape[0])
        return
    blocks = _row_blocks(z, acc)
    if z.dtype == acc:
        for lo, hi in blocks:
            update(z[lo:hi], lo, hi)
        return
    buffer = torch.empty((blocks[0][1] - blocks[0][0], z.shape[1]), dtype=acc, device=z.device)
    for lo, hi in blocks:
        block = buffer[: hi - lo]
        block.copy_(z[lo:hi])
        update(block, lo, hi)
        z[lo:hi].copy_(block)


class _WeightedCountNLL(torch.autograd.Function):
    """Fused ``Σ_i [ n_i · lse(z_i) − Σ_w c_iw z_iw ]`` with ``z = hidden @ words.T + bias``.

    The ``(N, W)`` buffer is the only large tensor: it holds ``z``, then (``torch`` passes)
    ``exp(z − max)``, then ``d loss / d z``. With ``torch`` passes its elementwise work (max, exp,
    sums, scaling) goes through :func:`_blockwise`: on a CPU in row blocks of the accumulation
    dtype, so that with ``bf16`` only the three matrix products and the buffer's storage are bf16
    there. With ``fused`` passes ``z`` stays as it is until the backward kernel turns it into
    ``d loss / d z`` (:mod:`flip_pipeline.probes.fused_passes`).
    """

    @staticmethod
    def forward(ctx, hidden, words, bias, rows, cols, vals, totals, bf16, fused):
        # bf16: the products' operands in bf16 (fp32 accumulation), kept for the backward products
        hidden_mm, words_mm = (hidden.bfloat16(), words.bfloat16()) if bf16 else (hidden, words)
        z = torch.addmm(bias.to(hidden_mm.dtype), hidden_mm, words_mm.T)  # (N, W) bf16 or fp32
        acc = hidden.dtype  # accumulation dtype: fp32 (fp64 in tests) even when products are bf16
        picked = z[rows, cols].to(acc)  # (nnz,)
        if fused:
            from flip_pipeline.probes import fused_passes

            lse = fused_passes.row_logsumexp(z).to(acc)  # (N,); z is kept as it is
            saved = lse
        else:
            lse = torch.empty(z.shape[0], dtype=acc, device=z.device)  # (N,)
            sums = torch.empty_like(lse)

            def exponentiate(block, lo, hi):  # block becomes exp(z - peak); its row sums and lse kept
                peak = block.amax(dim=1, keepdim=True)
                block.sub_(peak).exp_()
                sums[lo:hi] = block.sum(dim=1, dtype=acc)
                lse[lo:hi] = peak.squeeze(1) + sums[lo:hi].log()

            _blockwise(z, acc, exponentiate)
            saved = sums
        loss = (totals * lse).sum() - (vals * picked).sum()
        ctx.save_for_backward(z, saved, hidden_mm, words_mm, rows, cols, vals, totals)
        ctx.fused, ctx.acc = fused, acc
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_loss):
        z, saved, hidden_mm, words_mm, rows, cols, vals, totals = ctx.saved_tensors
        acc = ctx.acc
        # d loss / d z = n_i softmax(z_i) − c_i, built in place in the saved buffer.
        if ctx.fused:
            from flip_pipeline.probes import fused_passes

            d_bias = fused_passes.softmax_grad_(z, saved, grad_loss * totals).to(acc)  # (W,); saved = lse
        else:
            scale = (grad_loss * totals / saved).unsqueeze(1)  # (N, 1); saved = Σ exp(z - peak)
            d_bias = torch.zeros(z.shape[1], dtype=acc, device=z.device)  # (W,)

            def scale_rows(block, lo, hi):  # n_i softmax(z_i); its column sums go to d_bias
                block.mul_(scale[lo:hi])
                d_bias.add_(block.sum(dim=0, dtype=acc))

            _blockwise(z, acc, scale_rows)
        picked_grad = grad_loss * vals  # (nnz,)
        z[rows, cols] -= picked_grad.to(z.dtype)  # (rows, cols) pairs are unique
        d_bias.index_add_(0, cols, picked_grad, alpha=-1)
        d_hidden = (z @ words_mm).to(acc)
        d_words = (z.T @ hidden_mm).to(acc)
        return d_hidden, d_words, d_bias, None, None, None, None, None, None


def weighted_count_nll(
    hidden: torch.Tensor,
    words: torch.Tensor,
    bias: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    vals: torch.Tensor,
    totals: torch.Tensor,
    bf16: bool = False,
    elementwise: str = "auto",
) -> torch.Tensor:
    """Negative weighted log-likelihood of bags of words under the softmax probe.

    Args:
        hidden: ``(N, h)`` float32 inputs of the word layer (``x`` for LiP, ``E2 x`` for FLiP).
        words: ``(W, h)`` word-embedding matrix (``E`` or ``E1``).
        bias: ``(W,)`` bias (log-unigram prior at initialisation).
        rows, cols: ``(nnz,)`` int64 coordinates of the nonzero counts; pairs are unique.
        vals: ``(nnz,)`` float32 counts, already multiplied by their row's view weight.
        totals: ``(N,)`` float32 per-row sums of ``vals`` (weighted word counts).
        bf16: bf16 matrix products with fp32 accumulation and a bf16 ``(N, W)`` buffer;
            sums and log-sum-exp in fp32, max and exp too on a CPU and in the fused passes (in
            bf16 with ``torch`` passes on an accelerator).
        elementwise: ``auto``, ``fused`` or ``torch``: how the passes over the ``(N, W)`` buffer
            run (see the module docstring; :func:`use_fused`).

    Returns:
        Scalar float32: ``Σ_i totals_i · logsumexp(z_i) − Σ vals · z[rows, cols]``.
    """
    fused = use_fused(elementwise, hidden.device)
    return _WeightedCountNLL.apply(hidden, words, bias, rows, cols, vals, totals, bf16, fused)


def reference_view_nll(
    words: torch.Tensor, factor: torch.Tensor | None, bias: torch.Tensor, x: torch.Tensor,
    rows: torch.Tensor, cols: torch.Tensor, vals: torch.Tensor,
) -> torch.Tensor:
    """The paper's per-view step written plainly (as in the published ``FactLoLM``).

    ``logits = b + E1 (E2 xᵀ)`` (or ``b + E xᵀ``), ``(W, B)``; a full log-softmax over the
    vocabulary; the counts gathered. ``bias`` is ``(W, 1)``, ``factor`` is ``E2`` or ``None``.
    Returns the negative log-likelihood (sum over the batch).
    """
    projected = x.T if factor is None else factor @ x.T
    logits = (bias + words @ projected).T  # (B, W)
    log_probs = torch.nn.functional.log_softmax(logits, dim=1)
    return -(log_probs[rows, cols] * vals).sum()
