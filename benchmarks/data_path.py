"""Data-path speed: the sentences/s and GB/s the resident and the streamed training paths
deliver into the training device's memory, against the rate a device needs to stay busy.

Writes synthetic shards of two views at each dimension (``write_shard``, as the embed stage
does) and a Zipf bag of words, then times whole epochs of batches on ``--device`` (until the
last batch is there), without training steps:

* streamed, serial: :meth:`flip_pipeline.training.batches.TrainingData.serial_batches` (the
  reader before: the next chunk read whole on one background thread, batches built in line);
* streamed: :meth:`flip_pipeline.training.batches.TrainingData.batches` (``--workers``
  threads read each chunk in row-group pieces and build its batches, in pinned memory on a GPU,
  copied on a side stream; default the job's CPUs);
* resident: :class:`flip_pipeline.training.resident.ResidentData` (views loaded once onto the
  device, every batch gathered there by index), float32 and bfloat16 storage.

GB/s counts the float32 embeddings handed to the step (``B × 2 views × d × 4`` bytes a batch).

The device's need: a FLiP step on ``N = 2B`` rows (two views) costs

    FLOPs = 6·N·W·r + 4·N·r·d

(forward ``E2 x`` 2Nrd and ``E1 h`` 2NWr; backward ``G E1`` 2NWr and ``Gᵀ h`` 2NWr for ``E1``,
``(G E1)ᵀ x`` 2Nrd for ``E2``); W 100k, r 512, B 6000, d 1024: 3.71 TFLOP. A device that
sustains ``T`` FLOP/s ends a step in ``FLOPs / T`` seconds and needs ``B · T / FLOPs``
sentences/s, which is the last column's reference (default T = 400 TFLOP/s, bf16).

On a shared machine, set ``OMP_WAIT_POLICY=PASSIVE``: spinning OpenMP workers otherwise stall
every small op of the gather (10x slower here with 2 threads and other jobs running).

    OMP_WAIT_POLICY=PASSIVE python benchmarks/data_path.py     # 60k pairs at d 1024 and 256 (~1 GB of shards)
    python benchmarks/data_path.py --rows 20000                 # smaller
    python benchmarks/data_path.py --device cuda --dims 1024    # into a GPU's memory
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from synthetic import device_of, machine, parse_run, save_json, synchronize, synthetic_bow, write_view

from flip_pipeline.device import job_cpus
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.training.batches import TrainingData
from flip_pipeline.training.resident import ResidentData

VIEWS = ("text_en", "speech_en")


def step_flops(batch: int, vocab: int, rank: int, dim: int, views: int = 2) -> float:
    """FLOPs of one FLiP training step (see the module docstring)."""
    n = views * batch
    return 6.0 * n * vocab * rank + 4.0 * n * rank * dim


def prepare(workdir: Path, rows: int, dim: int, vocab: int) -> TrainingData:
    """Shards of both views at ``dim`` under ``workdir/n{rows}-d{dim}`` (written once) and their training data."""
    folder = workdir / f"n{rows}-d{dim}"
    bow = synthetic_bow(rows, vocab, 10, seed=0)
    if not (folder / VIEWS[-1] / "_SUCCESS").exists():
        for v, name in enumerate(VIEWS):
            write_view(folder / name, bow.ids, dim, 50_000, seed=v + 1)
    return TrainingData([ViewEmbeddings(folder / name) for name in VIEWS], [0.5, 0.5], bow, "synthetic")


def best_epoch(epoch, repeats: int, device: torch.device) -> tuple[float, int]:
    """Fastest of ``repeats`` epochs (seconds, until the device holds the last batch) and the
    sentences each delivered."""
    best, rows = float("inf"), 0
    for _ in range(repeats):
        synchronize(device)
        started, rows = time.perf_counter(), 0
        for batch in epoch():
            rows += batch.x.shape[0] // 2
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return best, rows


def measure(data: TrainingData, args, device: torch.device) -> list[tuple[str, str, float, int, float]]:
    """``(path, storage, seconds, rows, load seconds)`` per path, all in this run."""
    rng = np.random.default_rng(0)
    out = []
    for path, epoch in (("streamed, serial (before)", lambda: data.serial_batches(args.batch, rng, device)),
                        (f"streamed, {args.workers} workers", lambda: data.batches(args.batch, rng, device,
                                                                                   workers=args.workers))):
        seconds, rows = best_epoch(epoch, args.repeats, device)
        out.append((path, "float32", seconds, rows, 0.0))
    for storage in (torch.float32, torch.bfloat16):
        started = time.perf_counter()
        resident = ResidentData(data, device, storage)
        synchronize(device)
        load = time.perf_counter() - started
        seconds, rows = best_epoch(lambda: resident.batches(args.batch, rng), args.repeats, device)
        out.append(("resident", str(storage).removeprefix("torch."), seconds, rows, load))
        resident = None  # freed before the next one loads
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/flip-data-path"))
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[1024, 256])
    parser.add_argument("--batch", type=int, default=6000)
    parser.add_argument("--vocab", type=int, default=100_000, help="W of the bag of words and of the FLOP count")
    parser.add_argument("--rank", type=int, default=512, help="r of the FLOP count")
    parser.add_argument("--tflops", type=float, default=400.0, help="sustained device throughput (TFLOP/s)")
    parser.add_argument("--repeats", type=int, default=5, help="epochs per path; the fastest is reported")
    parser.add_argument("--workers", type=int, default=job_cpus(), help="threads of the streamed path")
    args = parse_run(parser)
    device = device_of(args)
    print(f"# data path, one epoch into {device}: {args.rows:,} pairs x 2 views, batch {args.batch}, "
          f"W={args.vocab:,}, {machine(device)}; best of {args.repeats}")
    print("| d | path | storage | sentences/s | GB/s | x serial streamed | x device need | load (s) |")
    print("|---|---|---|---|---|---|---|---|")
    needs, rates = {}, []
    for dim in args.dims:
        data = prepare(args.workdir, args.rows, dim, args.vocab)
        needs[dim] = args.batch * args.tflops * 1e12 / step_flops(args.batch, args.vocab, args.rank, dim)
        results = measure(data, args, device)
        serial_rate = results[0][3] / results[0][2]
        for path, storage, seconds, rows, load in results:
            rate = rows / seconds
            gbps = rate * 2 * dim * 4 / 1e9
            print(f"| {dim} | {path} | {storage} | {rate:,.0f} | {gbps:.2f} | {rate / serial_rate:.1f} | "
                  f"{rate / needs[dim]:.2f} | {load:.1f} |")
            rates.append({"dim": dim, "path": path, "storage": storage, "sentences_per_s": rate, "gbps": gbps,
                          "load_s": load, "need_per_s": needs[dim]})
    for dim, need in needs.items():
        flops = step_flops(args.batch, args.vocab, args.rank, dim)
        print(f"\ndevice need at d={dim}: FLiP r={args.rank}, W={args.vocab:,}, B={args.batch} x 2 views: "
              f"{flops / 1e12:.2f} TFLOP a step (6NWr + 4Nrd, N = 2B); at {args.tflops:g} TFLOP/s "
              f"{flops / (args.tflops * 1e12) * 1e3:.1f} ms a step -> {need:,.0f} sentences/s, "
              f"{need * 2 * dim * 4 / 1e9:.2f} GB/s")
    at_1024 = {(r["path"], r["storage"]): r["sentences_per_s"] for r in rates if r["dim"] == 1024}
    for (path, storage), rate in at_1024.items():
        if path != "streamed, serial (before)":
            verdict = "met" if rate >= 300_000 else "NOT met"
            print(f"target: {path} ({storage}) >= 300,000 sentences/s at d 1024 -> {rate:,.0f}: {verdict}")
    save_json(args, {"device": str(device), "machine": machine(device), "rows": args.rows, "batch": args.batch,
                     "workers": args.workers, "cpus": job_cpus(), "rates": rates})
    if not args.keep:
        shutil.rmtree(args.workdir)


if __name__ == "__main__":
    main()
