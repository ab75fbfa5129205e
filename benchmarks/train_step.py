"""Training-step speed: our FLiP step against a plain reimplementation of the paper's step.

All run in this script on the same synthetic batch (two views, Zipf-distributed bags of
words) on ``--device``. The baseline is the published code's step written plainly: per view
``logits = b + E1 (E2 Xᵀ)`` (W × B), a full log-softmax over the vocabulary, the counts
gathered, ``α``-mixed, backward, AdamW, proximal L1. Ours is
:func:`flip_pipeline.training.loop.train_step` (both views stacked, one ``(N, W)`` buffer), in:

* ``fp32, torch passes, 1 GiB logits``: the step as it was before (the default precision then,
  the objective's elementwise work as torch ops, the logit buffer in 1 GiB row chunks);
* ``tf32`` (the default now), ``fp32`` (true float32) and ``bf16``, with the elementwise passes
  ``auto`` chooses (fused Triton kernels on a GPU, torch ops on a CPU) and the default logit budget;
* ``bf16, torch passes, 1 GiB logits``: the bf16 step as it was before (its factor products
  now in TF32, as ``bf16`` runs them).

Each step's rate (TFLOP/s: ``2B (4 d r + 6 r W)`` for two views of ``B`` sentences, the
factor's forward and weight gradient plus the word layer's three products) is set against the
peak of the device's matrix products in the same precision, measured in the same run on
square products (:mod:`ceilings`; target: bf16 step ≥ 60% of the bf16 peak; at the issue's
sizes, W 100k, r 512, B 6000, d 1024, that is ≤ 8.5 ms on an H200).

A second part trains the same small probe to convergence in fp32, tf32 and bf16 and prints
the difference in held-out accuracy (each must stay within 0.5 points of fp32).

    python benchmarks/train_step.py            # d 1024, rank 512, batch 6000, W 17500
    python benchmarks/train_step.py --vocab 100000 --device cuda   # the issue's sizes on a GPU
    python benchmarks/train_step.py --quick    # smaller sizes, for a smoke run
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
from ceilings import matmul_tflops
from synthetic import add_run_options, device_of, device_seconds, machine, save_json, zipf_counts

from flip_pipeline.metrics import adaptive_accuracy, hit_mask, reference_sets
from flip_pipeline.probes.lip import make_probe
from flip_pipeline.probes.objective import reference_view_nll, use_fused
from flip_pipeline.probes.ranking import top_words
from flip_pipeline.training.batches import stack_views
from flip_pipeline.training.loop import TrainSettings, logits_budget_mb, make_optimizer, train_step


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


def time_steps(step, repeats: int, device: torch.device) -> float:
    """Median seconds a step takes, device work included: on a GPU of 5 steps in a row (as
    training runs them, the host queueing the next while the device runs one), after warm-up."""
    in_a_row = 5 if device.type == "cuda" else 1
    step()
    step()  # warm-up: kernels compiled, allocator settled
    return statistics.median(device_seconds(lambda: [step() for _ in range(in_a_row)], device) / in_a_row
                             for _ in range(repeats))


def step_gflop(args) -> float:
    """GFLOP of one FLiP step on two views: ``2B (4 d r + 6 r W)`` (see the module docstring)."""
    return 2 * args.batch * (4 * args.dim * args.rank + 6 * args.rank * args.vocab) / 1e9


#: Our step's variants: (name, precision, elementwise, logits_memory_mb).
VARIANTS = [
    ("ours before: fp32, torch passes, 1 GiB logits", "fp32", "torch", 1024.0),
    ("ours: tf32 (default)", "tf32", "auto", None),
    ("ours: fp32", "fp32", "auto", None),
    ("ours before: bf16, torch passes, 1 GiB logits", "bf16", "torch", 1024.0),
    ("ours: bf16", "bf16", "auto", None),
]


def synthetic_step_inputs(args, device: torch.device):
    """``(batch, xs, targets)`` of one step at ``args``' sizes on ``device``: our stacked
    :class:`~flip_pipeline.training.batches.Batch` of two views of ``args.batch`` sentences
    (standard-normal ``(B, d)`` embeddings, Zipf bags of words over ``args.vocab`` words), and the
    same data as the published step takes it (each view's ``(B, d)``; the counts' rows, columns, values)."""
    rng = np.random.default_rng(0)
    counts = zipf_counts(rng, args.batch, args.vocab)
    xs = [torch.from_numpy(rng.standard_normal((args.batch, args.dim), dtype=np.float32)) for _ in range(2)]
    batch = stack_views([x.numpy() for x in xs], [0.5, 0.5], counts, device)
    coo = counts.tocoo()
    targets = [torch.from_numpy(a).to(device) for a in (coo.row.astype(np.int64), coo.col.astype(np.int64),
                                                        coo.data.astype(np.float32))]
    return batch, [x.to(device) for x in xs], targets


def speed(args, device: torch.device) -> list[dict]:
    """One row per step: name, precision, the elementwise passes it ran, seconds (or the error)."""
    batch, xs, targets = synthetic_step_inputs(args, device)
    rows = []

    def timed(name, precision, elementwise, make_step):
        row = {"name": name, "precision": precision, "elementwise": elementwise}
        try:
            torch.manual_seed(0)
            probe = make_probe("flip", args.vocab, args.dim, args.rank).to(device)
            row["seconds"] = time_steps(make_step(probe), args.repeats, device)
        except Exception as err:  # noqa: BLE001 - one variant failing must not lose the others
            row["error"] = f"{type(err).__name__}: {err}"
        rows.append(row)
        if device.type == "cuda":
            torch.cuda.empty_cache()

    def published(probe):
        settings = TrainSettings()
        opt = torch.optim.AdamW(probe.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        return lambda: baseline_update(probe, opt, xs, *targets, 0.5, 1e-4)

    timed("paper step (published, fp32)", "fp32", "log_softmax", published)
    for name, precision, elementwise, logits_mb in VARIANTS:
        elementwise = args.elementwise if elementwise == "auto" else elementwise
        def ours(probe, precision=precision, elementwise=elementwise, logits_mb=logits_mb):
            budget = logits_budget_mb(logits_mb, device)  # once, as train_probe does
            settings = TrainSettings(precision=precision, logits_memory_mb=budget)
            opt = make_optimizer(probe, settings)
            return lambda: train_step(probe, opt, batch, settings, elementwise)

        passes = "fused" if use_fused(elementwise, device) else "torch passes"
        timed(name, precision, passes, ours)
    return rows


def accuracy_gap(args, device: torch.device) -> dict[str, float]:
    """Train fp32, tf32 and bf16 probes on a learnable synthetic task; held-out accuracy of each (%)."""
    rng = np.random.default_rng(1)
    vocab, dim, n_train, n_test = args.acc_vocab, 256, args.acc_sentences, 2000
    counts = zipf_counts(rng, n_train + n_test, vocab, words_per_row=8)
    projection = rng.standard_normal((vocab, dim)).astype(np.float32) / np.sqrt(dim)
    x = np.asarray(counts @ projection, dtype=np.float32) + 0.1 * rng.standard_normal((n_train + n_test, dim), dtype=np.float32)
    out = {}
    for precision in ("fp32", "tf32", "bf16"):
        torch.manual_seed(0)
        order = np.random.default_rng(0)
        probe = make_probe("flip", vocab, dim, 128)
        probe.init_bias_log_unigram(np.asarray(counts[:n_train].sum(axis=0)).ravel())
        probe.to(device)
        settings = TrainSettings(precision=precision, batch_size=1000)
        opt = make_optimizer(probe, settings)
        for _ in range(args.acc_epochs):
            perm = order.permutation(n_train)
            for lo in range(0, n_train, settings.batch_size):
                idx = perm[lo : lo + settings.batch_size]
                train_step(probe, opt, stack_views([x[idx]], [1.0], counts[idx], device), settings, args.elementwise)
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
    parser.add_argument("--peak-size", type=int, help="square product of the peaks (default 8192 on a GPU, 4096 on a CPU)")
    parser.add_argument("--acc-vocab", type=int, default=2000)
    parser.add_argument("--acc-epochs", type=int, default=12)
    parser.add_argument("--acc-sentences", type=int, default=20000, help="training sentences of the accuracy check")
    parser.add_argument("--elementwise", default="auto", choices=["auto", "fused", "torch"],
                        help="the objective's passes in the steps of now (fused on a CPU: under TRITON_INTERPRET=1)")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--quick", action="store_true", help="d 256, rank 128, batch 1000, W 5000")
    add_run_options(parser)
    args = parser.parse_args()
    if args.quick:
        args.dim, args.rank, args.batch, args.vocab, args.acc_epochs = 256, 128, 1000, 5000, 3
    device = device_of(args)
    print(f"# train step: d={args.dim} rank={args.rank} batch={args.batch} (x2 views) W={args.vocab}; {machine(device)}")
    rows = speed(args, device)
    size = args.peak_size or (8192 if device.type == "cuda" else 4096)
    peaks = {"fp32": matmul_tflops(torch.float32, device, size, 5),
             "tf32": matmul_tflops(torch.float32, device, size, 5, "tf32"),
             "bf16": matmul_tflops(torch.bfloat16, device, size, 5)}
    print(f"matrix-product peak (square {size}, same run): fp32 {peaks['fp32']:.3g}, tf32 {peaks['tf32']:.3g}, "
          f"bf16 {peaks['bf16']:.3g} TFLOP/s; one step = {step_gflop(args):.1f} GFLOP")
    base = rows[0].get("seconds")
    print("| step | elementwise | ms | speed-up | TFLOP/s | of its peak |\n|---|---|---|---|---|---|")
    for row in rows:
        if "seconds" not in row:
            print(f"| {row['name']} | {row['elementwise']} | failed: {row['error']} | | | |")
            continue
        rate = step_gflop(args) / 1e3 / row["seconds"]
        row.update(tflops=rate, share=rate / peaks[row["precision"]])
        speedup = f"{base / row['seconds']:.2f}x" if base else "n/a"
        print(f"| {row['name']} | {row['elementwise']} | {1e3 * row['seconds']:.2f} | {speedup} | {rate:.3g} | "
              f"{row['share']:.0%} |")
    bf16 = next(row for row in rows if row["name"] == "ours: bf16")
    if "share" in bf16:
        print(f"\ntarget: bf16 step >= 60% of the bf16 peak -> {'met' if bf16['share'] >= 0.6 else 'NOT met'} "
              f"({bf16['share']:.0%}, {1e3 * bf16['seconds']:.2f} ms)")
    result = {"sizes": {k: getattr(args, k) for k in ("dim", "rank", "batch", "vocab")}, "gflop": step_gflop(args),
              "peaks_tflops": peaks, "peak_size": size, "steps": rows, "machine": machine(device)}
    save_json(args, result)  # the speed rows, whatever becomes of the accuracy check
    if not args.skip_accuracy:
        try:
            acc = accuracy_gap(args, device)
        except Exception as err:  # noqa: BLE001 - the speed rows are saved either way
            print(f"\naccuracy check failed: {type(err).__name__}: {err}")
            result["accuracy_error"] = f"{type(err).__name__}: {err}"
            save_json(args, result)
            raise
        print(f"\n# accuracy check: FLiP r=128 on a synthetic task, W={args.acc_vocab}, {args.acc_epochs} epochs")
        print("| precision | held-out accuracy (%) | minus fp32 (points) |\n|---|---|---|")
        for name, value in acc.items():
            print(f"| {name} | {value:.2f} | {value - acc['fp32']:+.2f} |")
        for name in ("tf32", "bf16"):
            gap = acc[name] - acc["fp32"]
            print(f"target: {name} within 0.5 points of fp32 -> {'met' if abs(gap) <= 0.5 else 'NOT met'} ({gap:+.2f})")
        result["accuracy"] = acc
    save_json(args, result)


if __name__ == "__main__":
    main()
