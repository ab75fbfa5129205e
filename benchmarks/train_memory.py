"""Peak memory of one full pass of the training data pipeline at Common Voice English size.

Writes 1.7M synthetic pairs of 1024-d float32 embeddings (two views, as Parquet shards
through :func:`flip_pipeline.formats.shards.write_shard`) and a 100k-word CSR bag of words, then
streams one epoch of shuffled 6000-sentence batches with
:class:`flip_pipeline.training.batches.TrainingData` (the streamed path, which training takes
when the views do not fit ``training.resident_memory_gb`` or it is 0), running a real training step of a small
FLiP (rank 8, the full 100k vocabulary) every ``--step-every`` batches so the step's
buffers count too. Prints peak resident memory (``ru_maxrss``) against the 4 GiB target
and against the size of the embeddings the pass streamed (the baseline: what loading
them whole would need).

    python benchmarks/train_memory.py --workdir /tmp/flip-mem    # ~14 GB of shards on disk
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from synthetic import synthetic_bow, write_view

from flip_pipeline.device import pick_device
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.probes.lip import make_probe
from flip_pipeline.training.batches import TrainingData
from flip_pipeline.training.loop import TrainSettings, make_optimizer, train_step

GIB = 2**30


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def prepare(args: argparse.Namespace) -> None:
    args.workdir.mkdir(parents=True, exist_ok=True)
    bow = synthetic_bow(args.rows, args.vocab, 10, seed=0)
    for v, name in enumerate(("text_en", "speech_en")):
        write_view(args.workdir / name, bow.ids, args.dim, 100_000, seed=v + 1)
    bow.save(args.workdir / "train.npz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/flip-train-memory"))
    parser.add_argument("--rows", type=int, default=1_700_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--vocab", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=6000)
    parser.add_argument("--step-every", type=int, default=40, help="run a training step every N batches")
    parser.add_argument("--logits-memory-mb", type=float, default=512, help="training.logits_memory_mb of the steps")
    parser.add_argument("--keep", action="store_true", help="keep the shards for another run")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:i]: where the "
                        "steps run and the batches go (host memory is measured either way)")
    args = parser.parse_args()

    started = time.perf_counter()
    bow_path = args.workdir / "train.npz"
    if not bow_path.exists():  # in a child process, so its memory does not count as the pass's
        child = multiprocessing.get_context("spawn").Process(target=prepare, args=(args,))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"preparing the synthetic shards failed (exit {child.exitcode})")
    prepared = time.perf_counter() - started

    bow = BagOfWords.load(bow_path)
    views = [ViewEmbeddings(args.workdir / name) for name in ("text_en", "speech_en")]
    data = TrainingData(views, [0.5, 0.5], bow, str(bow_path))
    device = pick_device(args.device)
    torch.manual_seed(0)
    probe = make_probe("flip", args.vocab, args.dim, 8).to(device)
    settings = TrainSettings(batch_size=args.batch, logits_memory_mb=args.logits_memory_mb)
    opt = make_optimizer(probe, settings)
    t = time.perf_counter()
    batches = steps = rows = 0
    for batch in data.batches(args.batch, np.random.default_rng(0), device, settings.chunk_batches):
        rows += batch.x.shape[0] // 2
        if batches % args.step_every == 0:
            train_step(probe, opt, batch, settings)
            steps += 1
        batches += 1
    elapsed = time.perf_counter() - t
    peak = peak_rss_bytes()
    streamed = 2 * args.rows * args.dim * 4

    print(f"# training data pipeline, one epoch: {args.rows:,} pairs x 2 views x d={args.dim} (float32), "
          f"W={args.vocab:,}, batch {args.batch}, {steps} FLiP r=8 steps with logits_memory_mb={args.logits_memory_mb:g}")
    print("| measure | value |\n|---|---|")
    print(f"| shards prepared (s) | {prepared:.1f} |")
    print(f"| pass time (s) | {elapsed:.1f} ({rows / elapsed:,.0f} sentences/s, {batches} batches) |")
    print(f"| rows streamed | {rows:,} |")
    print(f"| peak RSS of the pass (GiB) | {peak / GIB:.2f} |")
    print(f"| baseline: embeddings loaded whole (GiB) | {streamed / GIB:.2f} |")
    print(f"| peak / baseline | {peak / streamed:.2f} |")
    print(f"\ntarget: peak below 4 GiB -> {'met' if peak < 4 * GIB else 'NOT met'}")
    assert rows == args.rows, "the pass must visit every row exactly once"
    if not args.keep:
        shutil.rmtree(args.workdir)


if __name__ == "__main__":
    main()
