"""Evaluation speed: adaptive-k accuracy over 16k sentences with a 100k-word vocabulary.

Times, on the same synthetic probe and test set:
  * ours: :func:`flip_pipeline.keywords.top_words` (chunked scoring + top-k) and the
    vectorised metric (:func:`flip_pipeline.metrics.hit_mask` / :func:`adaptive_accuracy`);
  * baseline: the published evaluation's metric, a Python loop per sentence over set
    intersections of the same top-k lists.
Both metrics must agree exactly. Prints sentences per second for each part.

    python benchmarks/evaluate.py                  # 16k sentences, W 100k, FLiP r 512, d 1024
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp
import torch
from synthetic import zipf_counts

from flip_pipeline.keywords import top_words
from flip_pipeline.metrics import adaptive_accuracy, hit_mask, reference_sets
from flip_pipeline.probes.lip import make_probe


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
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    counts = zipf_counts(rng, args.sentences, args.vocab)
    torch.manual_seed(0)
    probe = make_probe("flip", args.vocab, args.dim, args.rank).eval()
    x = rng.standard_normal((args.sentences, args.dim), dtype=np.float32)
    words = [f"w{i}" for i in range(args.vocab)]

    t = time.perf_counter()
    reference = reference_sets(counts)
    k = np.diff(reference.indptr)
    top = top_words(probe, x, int(k.max()))
    t_topk = time.perf_counter() - t
    t = time.perf_counter()
    ours, evaluated = adaptive_accuracy(hit_mask(top, reference), k)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    base = baseline_accuracy(top, counts, words)
    t_base = time.perf_counter() - t
    assert np.array_equal(ours[evaluated], base), "vectorised and looped accuracy disagree"

    n = args.sentences
    print(f"# evaluation: {n:,} sentences, W={args.vocab:,}, FLiP r={args.rank}, d={args.dim}, "
          f"{torch.get_num_threads()} threads, CPU; max k = {k.max()}")
    print("| part | seconds | sentences/s |\n|---|---|---|")
    print(f"| scoring + top-k (ours) | {t_topk:.2f} | {n / t_topk:,.0f} |")
    print(f"| accuracy metric, vectorised (ours) | {t_ours:.3f} | {n / t_ours:,.0f} |")
    print(f"| accuracy metric, per-sentence loop (published) | {t_base:.3f} | {n / t_base:,.0f} |")
    print(f"| end to end, ours | {t_topk + t_ours:.2f} | {n / (t_topk + t_ours):,.0f} |")
    print(f"\nmetric speed-up over the loop: {t_base / t_ours:.1f}x; accuracy {100 * np.nanmean(ours):.2f}% (random probe)")


if __name__ == "__main__":
    main()
