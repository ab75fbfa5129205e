"""Training-step speed: our FLiP step against a plain reimplementation of the paper's step.

Both run in this script on the same synthetic batches (two views, Zipf-distributed bags
of words). The baseline is the published code's step written plainly: per view
``logits = b + E1 (E2 Xᵀ)`` (W × B), a full log-softmax over the vocabulary, the counts
gathered, ``α``-mixed, backward, AdamW, proximal L1. Ours is
:func:`flip_pipeline.training.loop.train_step` (both views stacked, fused log-sum-exp objective).

Each step's rate (GFLOP/s: ``2B (4 d r + 6 r W)`` for two views of ``B`` sentences, the
factor's forward and weight gradient plus the word layer's three products) is set against the
peak of this machine's matrix products in the same precision, measured in the same run on
square 4096 × 4096 products (target: bf16 step ≥ 60% of the bf16 peak).

A second part trains the same small probe to convergence in fp32 and in bf16 and prints
the difference in held-out accuracy (the bf16 option must stay within 0.5 points).

    python benchmarks/train_step.py            # paper sizes: d 1024, rank 512, batch 6000, W 17500
    python benchmarks/train_step.py --quick    # smaller sizes, for a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from synthetic import zipf_counts

from flip_pipeline.keywords import top_words
from flip_pipeline.metrics import adaptive_accuracy, hit_mask, reference_sets
from flip_pipeline.probes.lip import make_probe
from flip_pipeline.probes.objective import reference_view_nll
from flip_pipeline.training.batches import stack_views
from flip_pipeline.training.loop import TrainSettings, make_optimizer, train_step

CPU = torch.device("cpu")


def baseline_step(probe, opt, xs, counts, alpha, l1):
    """The paper's step, as plainly as the published code writes it."""
    coo = counts.tocoo()
    rows, cols = torch.from_numpy(coo.row.astype(np.int64)), torch.from_numpy(coo.col.astype(np.int64))
    vals = torch.from_numpy(coo.data.astype(np.float32))
    return baseline_update(probe, opt, xs, rows, cols, vals, alpha, l1)


def baseline_update(probe, opt, xs, rows, cols, vals, alpha, l1):
    """The published update on one batch: per view a full log-softmax (:func:`reference_view_nll`),
    ``alpha``-mixed, backward, AdamW, proximal L1; ``xs`` the two views' ``(B, d)`` embeddings."""
    opt.zero_grad()
    nll1 = reference_view_nll(probe.E1, probe.E2, probe.b, xs[0], rows, cols, vals)
    nll2 = reference_view_nll(probe.E1, probe.E2, probe.b, xs[1], rows, cols, vals)
    loss = alpha * nll1 + (1 - alpha) * nll2
    loss.backward()
    opt.step()
    probe.prox_l1(opt.param_groups[0]["lr"] * l1)
    return float(loss.detach())


def time_steps(step, repeats: int) -> float:
    step()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def gemm_peak(dtype: torch.dtype, size: int = 4096, repeats: int = 3) -> float:
    """GFLOP/s of a square ``size``³ matrix product in ``dtype`` (the median of ``repeats``)."""
    a, b = (torch.randn(size, size).to(dtype) for _ in range(2))
    seconds = time_steps(lambda: a @ b, repeats)
    return 2 * size**3 / seconds / 1e9


def step_gflop(args) -> float:
    """GFLOP of one FLiP step on two views: ``2B (4 d r + 6 r W)`` (see the module docstring)."""
    return 2 * args.batch * (4 * args.dim * args.rank + 6 * args.rank * args.vocab) / 1e9


def speed(args) -> list[tuple[str, float]]:
    rng = np.random.default_rng(0)
    counts = zipf_counts(rng, args.batch, args.vocab)
    xs = [torch.from_numpy(rng.standard_normal((args.batch, args.dim), dtype=np.float32)) for _ in range(2)]
    batch = stack_views([x.numpy() for x in xs], [0.5, 0.5], counts, CPU)
    results = []
    torch.manual_seed(0)
    probe = make_probe("flip", args.vocab, args.dim, args.rank)
    settings = TrainSettings()
    opt = torch.optim.AdamW(probe.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    results.append(("paper step (fp32)", time_steps(lambda: baseline_step(probe, opt, xs, counts, 0.5, 1e-4), args.repeats)))
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        probe = make_probe("flip", args.vocab, args.dim, args.rank)
        settings = TrainSettings(precision=precision)
        opt = make_optimizer(probe, settings)
        results.append((f"ours ({precision})", time_steps(lambda: train_step(probe, opt, batch, settings), args.repeats)))
    return results


def accuracy_gap(args) -> dict[str, float]:
    """Train fp32 and bf16 probes on a learnable synthetic task; held-out accuracy of each."""
    rng = np.random.default_rng(1)
    vocab, dim, n_train, n_test = args.acc_vocab, 256, 20000, 2000
    counts = zipf_counts(rng, n_train + n_test, vocab, words_per_row=8)
    projection = rng.standard_normal((vocab, dim)).astype(np.float32) / np.sqrt(dim)
    x = np.asarray(counts @ projection, dtype=np.float32) + 0.1 * rng.standard_normal((n_train + n_test, dim), dtype=np.float32)
    out = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        order = np.random.default_rng(0)
        probe = make_probe("flip", vocab, dim, 128)
        probe.init_bias_log_unigram(np.asarray(counts[:n_train].sum(axis=0)).ravel())
        settings = TrainSettings(precision=precision, batch_size=1000)
        opt = make_optimizer(probe, settings)
        for _ in range(args.acc_epochs):
            perm = order.permutation(n_train)
            for lo in range(0, n_train, settings.batch_size):
                idx = perm[lo : lo + settings.batch_size]
                train_step(probe, opt, stack_views([x[idx]], [1.0], counts[idx], CPU), settings)
        ref = reference_sets(counts[n_train:])
        k = np.diff(ref.indptr)
        top = top_words(probe, x[n_train:], int(k.max()))
        acc, _ = adaptive_accuracy(hit_mask(top, ref), k)
        out[precision] = 100 * float(np.nanmean(acc))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--rank", type=int, default=512)
    parser.add_argument("--batch", type=int, default=6000)
    parser.add_argument("--vocab", type=int, default=17500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--acc-vocab", type=int, default=2000)
    parser.add_argument("--acc-epochs", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="d 256, rank 128, batch 1000, W 5000")
    args = parser.parse_args()
    if args.quick:
        args.dim, args.rank, args.batch, args.vocab, args.acc_epochs = 256, 128, 1000, 5000, 3
    torch.set_num_threads(torch.get_num_threads())
    print(f"# train step: d={args.dim} rank={args.rank} batch={args.batch} (x2 views) W={args.vocab}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    results = speed(args)
    peaks = {"fp32": gemm_peak(torch.float32), "bf16": gemm_peak(torch.bfloat16)}
    print(f"matrix-product peak (square 4096, same run): fp32 {peaks['fp32']:.0f} GFLOP/s, "
          f"bf16 {peaks['bf16']:.0f} GFLOP/s; one step = {step_gflop(args):.1f} GFLOP")
    base = results[0][1]
    print(f"| {'step':<20} | {'seconds':>8} | {'speed-up':>8} | {'GFLOP/s':>8} | {'of peak':>8} |")
    print(f"|{'-' * 22}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    for name, seconds in results:
        rate = step_gflop(args) / seconds
        peak = peaks["bf16" if "bf16" in name else "fp32"]
        print(f"| {name:<20} | {seconds:>8.3f} | {base / seconds:>7.2f}x | {rate:>8.0f} | {rate / peak:>7.0%} |")
    bf16_share = step_gflop(args) / dict(results)["ours (bf16)"] / peaks["bf16"]
    print(f"\ntarget: bf16 step >= 60% of the bf16 peak -> {'met' if bf16_share >= 0.6 else 'NOT met'} ({bf16_share:.0%})")
    acc = accuracy_gap(args)
    print(f"\n# bf16 accuracy check: FLiP r=128 on a synthetic task, W={args.acc_vocab}, {args.acc_epochs} epochs")
    print("| precision | held-out accuracy (%) |\n|---|---|")
    for name, value in acc.items():
        print(f"| {name} | {value:.2f} |")
    print(f"\nbf16 - fp32 = {acc['bf16'] - acc['fp32']:+.2f} points (target: within 0.5)")


if __name__ == "__main__":
    main()
