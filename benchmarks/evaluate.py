"""Evaluation speed: adaptive-k accuracy over 16k sentences with a 100k-word vocabulary.

Times, on the same synthetic probe and test set:
  * ranking: :func:`flip_pipeline.probes.ranking.top_words` (chunked scoring + top-``--depth``) with the probe
    on the CPU (where evaluation, entity recall and ``flip keywords`` always ranked before) and,
    with ``--device cuda``, on the GPU (where they rank now), and how many rows rank alike;
  * the metric: the vectorised one (:func:`flip_pipeline.metrics.hit_mask` /
    :func:`adaptive_accuracy`) against the published evaluation's Python loop per sentence over
    set intersections of the same top-k lists; both must agree exactly.
Prints seconds and sentences per second for each part.

    python benchmarks/evaluate.py                  # 16k sentences, W 100k, FLiP r 512, d 1024, CPU
    python benchmarks/evaluate.py --device cuda    # and on the GPU
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp
import torch
from synthetic import add_run_options, device_of, device_seconds, machine, save_json, zipf_counts

from flip_pipeline.metrics import adaptive_accuracy, hit_mask, reference_sets
from flip_pipeline.probes.lip import make_probe
from flip_pipeline.probes.ranking import top_words

CPU = torch.device("cpu")


def baseline_accuracy(top: np.ndarray, counts: sp.csr_matrix, words: list[str]) -> np.ndarray:
    """The published loop: per sentence, k = |reference ∩ vocabulary|, set intersection of words."""
    out = []
    for i in range(counts.shape[0]):
        reference = {words[j] for j in counts.indices[counts.indptr[i] : counts.indptr[i + 1]]}
        if not reference:
            continue
        selected = {words[j] for j in top[i, : len(reference)]}
        out.append(len(reference & selected) / len(reference))
    return np.asarray(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=16_000)
    parser.add_argument("--vocab", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--rank", type=int, default=512)
    parser.add_argument("--depth", type=int, default=100, help="words ranked per sentence (at least the largest k)")
    parser.add_argument("--repeats", type=int, default=3, help="device rankings timed; the fastest is reported")
    add_run_options(parser)
    args = parser.parse_args()
    device = device_of(args)

    rng = np.random.default_rng(0)
    counts = zipf_counts(rng, args.sentences, args.vocab)
    torch.manual_seed(0)
    probe = make_probe("flip", args.vocab, args.dim, args.rank).eval()
    x = rng.standard_normal((args.sentences, args.dim), dtype=np.float32)
    words = [f"w{i}" for i in range(args.vocab)]
    reference = reference_sets(counts)
    k = np.diff(reference.indptr)
    depth = max(args.depth, int(k.max()))

    t = time.perf_counter()
    top = top_words(probe, x, depth)
    t_cpu = time.perf_counter() - t
    rows = [("ranking, probe on the CPU (before)", t_cpu)]
    result = {"sentences": args.sentences, "vocab": args.vocab, "rank": args.rank, "dim": args.dim, "depth": depth,
              "cpu_rank_s": t_cpu, "machine": machine(device)}
    if device.type != "cpu":
        probe.to(device)
        top_words(probe, x[:1000], depth)  # warm-up
        t_device = min(device_seconds(lambda: top_words(probe, x, depth), device) for _ in range(args.repeats))
        on_device = top_words(probe, x, depth)
        same_rows = float((on_device == top).all(axis=1).mean())
        same_sets = float(np.mean([len(np.intersect1d(a, b)) / depth for a, b in zip(on_device, top)]))
        rows.append((f"ranking, probe on {device} (now)", t_device))
        result.update(device_rank_s=t_device, identical_rows=same_rows, same_words=same_sets)
        device_acc, _ = adaptive_accuracy(hit_mask(on_device, reference), k)
    t = time.perf_counter()
    ours, evaluated = adaptive_accuracy(hit_mask(top, reference), k)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    base = baseline_accuracy(top, counts, words)
    t_base = time.perf_counter() - t
    assert np.array_equal(ours[evaluated], base), "vectorised and looped accuracy disagree"
    rows += [("accuracy metric, vectorised (ours)", t_ours), ("accuracy metric, per-sentence loop (published)", t_base)]

    n = args.sentences
    print(f"# evaluation: {n:,} sentences, W={args.vocab:,}, FLiP r={args.rank}, d={args.dim}, top {depth} "
          f"(max k = {k.max()}); "
          f"{machine(device)}")
    print("| part | seconds | sentences/s |\n|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {n / seconds:,.0f} |")
    if device.type != "cpu":
        print(f"\nranking on {device}: {t_cpu / t_device:.1f}x the CPU's; {100 * same_rows:.2f}% of rows ranked "
              f"identically, {100 * same_sets:.3f}% of the top-{depth} words the same (ties and rounding of near-equal "
              f"scores); accuracy {100 * np.nanmean(device_acc):.4f}% on the device vs {100 * np.nanmean(ours):.4f}% "
              "on the CPU")
    print(f"\nmetric speed-up over the loop: {t_base / t_ours:.1f}x; accuracy {100 * np.nanmean(ours):.2f}% (random probe)")
    save_json(args, {**result, "metric_s": t_ours, "loop_metric_s": t_base})


if __name__ == "__main__":
    main()
