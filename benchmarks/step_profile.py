"""Where the bf16 training step's time goes, and the fused kernels' launch shapes measured.

At the issue's sizes (W 100k, r 512, B 6000 x 2 views, d 1024) one bf16 step was 9.06 ms on an
H200, 53% of its bf16 matrix-product peak; its five matrix products alone ~5.2-5.6 ms. This
script measures the rest, in one run on ``--device``:

(a) a ``torch.profiler`` table of the step (:func:`flip_pipeline.training.loop.train_step`): the
    device time per kernel (top kernels, ms a step, share of the kernels' time), the kernels'
    time against the step's wall time (the device's busy share: gaps are launch overhead or waits);
(b) each fused kernel (:mod:`flip_pipeline.probes.fused_passes`) on the step's ``(N, W)`` buffer
    for a grid of launch shapes (:class:`~flip_pipeline.probes.fused_passes.Tiles`: rows, columns,
    tiles per program, warps, per-element maxima): ms (median of ``--repeats`` runs of ``--calls``
    calls in a row, the partials' combination included) and GB/s (forward: ``N·W`` values read;
    backward: read and written) against the device's copy rate measured here; every shape's results
    checked against the tables' shape (the backward's values to an ulp of the buffer's dtype, so
    every one written; column sums and log-sum-exps to float tolerance);
(c) the step with the tables' shapes and with the fastest measured, ms and share of the bf16 peak
    (measured here, square 8192 products); then the fastest shapes as entries of the tables.

Shapes are tried in order until ``--budget-s`` seconds have passed since the start (less the time
(c) needs): each new shape costs a Triton compilation (about a second). On a CPU the kernels run
only in Triton's interpreter (``TRITON_INTERPRET=1``), for a smoke run at ``--quick`` sizes.

    python benchmarks/step_profile.py --device cuda                 # the issue's sizes, ~1 minute
    TRITON_INTERPRET=1 python benchmarks/step_profile.py --device cpu --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict

import torch
from ceilings import copy_gbps, matmul_tflops
from synthetic import add_run_options, device_of, device_seconds, machine, save_json
from train_step import step_gflop, synthetic_step_inputs, time_steps

from flip_pipeline.probes import fused_passes
from flip_pipeline.probes.fused_passes import GRAD_TILES, LSE_TILES, Tiles
from flip_pipeline.probes.lip import make_probe
from flip_pipeline.training.loop import TrainSettings, logits_budget_mb, make_optimizer, train_step

#: Forward shapes tried after the table's: rows, columns, tiles per program, warps, per-element maxima.
LSE_GRID = [Tiles(8, 512, 8, 4, lanes=True), Tiles(4, 256, 16, 4), Tiles(8, 256, 16, 4),
            Tiles(8, 256, 16, 4, lanes=True), Tiles(16, 256, 8, 8), Tiles(16, 512, 4, 8),
            Tiles(8, 1024, 4, 8), Tiles(8, 1024, 4, 8, lanes=True), Tiles(4, 512, 16, 4, lanes=True),
            Tiles(16, 512, 8, 8, lanes=True), Tiles(32, 256, 4, 8), Tiles(8, 512, 16, 4)]
#: Backward shapes tried after the table's (the first is the shape before issue 24's second round).
GRAD_GRID = [Tiles(16, 512, 8, 4), Tiles(8, 256, 16, 4), Tiles(4, 512, 32, 4), Tiles(16, 256, 8, 4),
             Tiles(8, 512, 8, 4), Tiles(8, 1024, 8, 8), Tiles(16, 512, 8, 8), Tiles(32, 256, 4, 8),
             Tiles(8, 512, 32, 4), Tiles(4, 1024, 16, 8), Tiles(16, 1024, 4, 8), Tiles(4, 256, 32, 2)]
#: Seconds kept for part (c) out of ``--budget-s``.
STEP_SECONDS = 12.0


def per_call_seconds(fn, device: torch.device, calls: int, repeats: int) -> float:
    """Median over ``repeats`` of the seconds per call of ``calls`` calls in a row (the device queue
    stays full, so launch overhead hides behind the work), after one warm-up call."""
    fn()
    return statistics.median(device_seconds(lambda: [fn() for _ in range(calls)], device) / calls
                             for _ in range(repeats))


def kernel_table(step, device: torch.device, steps: int) -> tuple[list[tuple[str, float, int]], float]:
    """``([(kernel, µs a step, launches a step)], µs of all kernels a step)`` of ``steps`` calls of
    ``step`` under ``torch.profiler``; on a CPU the operators' own CPU time instead of kernels."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    totals: dict[str, list[float]] = {}
    if device.type == "cuda":
        for event in prof.events():
            if event.device_type == DeviceType.CUDA:
                entry = totals.setdefault(event.name, [0.0, 0])
                entry[0] += event.time_range.elapsed_us()
                entry[1] += 1
    else:
        for event in prof.key_averages():
            if event.self_cpu_time_total > 0:
                totals[event.key] = [event.self_cpu_time_total, event.count]
    rows = sorted(((name, us / steps, count // steps) for name, (us, count) in totals.items()),
                  key=lambda row: -row[1])
    return rows, sum(row[1] for row in rows)


def label(tiles: Tiles) -> str:
    """``rows x cols x steps, warps`` and ``lanes`` when set: a launch shape in a table cell."""
    return f"{tiles.rows}x{tiles.cols}x{tiles.steps}, {tiles.warps} warps{', lanes' if tiles.lanes else ''}"


def short(name: str, width: int = 70) -> str:
    return name if len(name) <= width else name[: width - 3] + "..."


def one_step(args, device: torch.device, precision: str):
    """A fresh FLiP probe, its optimiser and a callable running one ``precision`` training step on
    the synthetic batch of the issue's sizes (``train_step``, elementwise passes ``auto``)."""
    batch, _, _ = synthetic_step_inputs(args, device)
    torch.manual_seed(0)
    probe = make_probe("flip", args.vocab, args.dim, args.rank).to(device)
    settings = TrainSettings(precision=precision, logits_memory_mb=logits_budget_mb(None, device))
    opt = make_optimizer(probe, settings)
    return lambda: train_step(probe, opt, batch, settings, args.elementwise)


def profile_step(args, device: torch.device, step) -> dict:
    """Part (a): the kernel table of one step and the device's busy share."""
    step()
    step()  # warm-up: kernels compiled, allocator settled
    wall = time_steps(step, 3, device)
    kernels, busy_us = kernel_table(step, device, 3)
    what = "kernels" if device.type == "cuda" else "operators (CPU self time)"
    print(f"\n## (a) one {args.precision} step: {1e3 * wall:.2f} ms wall; {what} {busy_us / 1e3:.2f} ms "
          f"({busy_us / 1e6 / wall:.0%} of the wall time), {sum(k[2] for k in kernels)} calls")
    print(f"| {what} | ms a step | share | calls |\n|---|---|---|---|")
    for name, us, count in kernels[: args.top]:
        print(f"| {short(name)} | {us / 1e3:.3f} | {us / busy_us:.1%} | {count} |")
    return {"wall_s": wall, "busy_us": busy_us, "kernels": [{"name": n, "us": us, "launches": c} for n, us, c in kernels]}


def buffer_for(args, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Random logits ``(2B, W)`` of the step's spread (standard normal × 3), never zeros."""
    g = torch.Generator(device=device).manual_seed(0)
    return (torch.randn(2 * args.batch, args.vocab, generator=g, device=device) * 3).to(dtype)


def measure_shapes(args, device: torch.device, z: torch.Tensor, deadline: float, copy_rate: float) -> dict:
    """Part (b): ms and GB/s of each launch shape of both kernels on ``z``, checked against the table's."""
    n_bytes = z.numel() * z.element_size()
    table = {"lse": fused_passes.tiles_for(LSE_TILES, z), "grad": fused_passes.tiles_for(GRAD_TILES, z)}
    lse_ref = fused_passes.row_logsumexp(z, table["lse"])
    coef = torch.rand(z.shape[0], device=device) + 0.5
    grad_ref = z.clone()
    colsum_ref = fused_passes.softmax_grad_(grad_ref, lse_ref, coef, table["grad"])
    work = torch.empty_like(z)
    out = {"lse": [], "grad": []}
    grids = {"lse": [table["lse"], *LSE_GRID[: args.shapes]], "grad": [table["grad"], *GRAD_GRID[: args.shapes]]}
    skipped = {"lse": 0, "grad": 0}
    for index in range(max(len(g) for g in grids.values())):
        for kernel in ("lse", "grad"):  # alternate, so that a short budget still measures both
            if index >= len(grids[kernel]):
                continue
            tiles = grids[kernel][index]
            if time.perf_counter() > deadline:
                skipped[kernel] += 1
                continue
            row = {"tiles": tiles, "table": index == 0}
            try:
                if kernel == "lse":
                    got = fused_passes.row_logsumexp(z, tiles)
                    row["check"] = float((got - lse_ref).abs().max())
                    ok = row["check"] <= 1e-4 * float(lse_ref.abs().max())
                    moved = n_bytes
                    seconds = per_call_seconds(lambda t=tiles: fused_passes.row_logsumexp(z, t), device,
                                               args.calls, args.repeats)
                else:
                    work.copy_(z)  # an unwritten value stays a logit: far off its gradient
                    colsum = fused_passes.softmax_grad_(work, lse_ref, coef, tiles)
                    off = float((work - grad_ref).abs().max()) / float(grad_ref.abs().max())
                    row["check"] = float((colsum - colsum_ref).norm() / colsum_ref.norm())
                    ok = off <= 2 * torch.finfo(z.dtype).eps and row["check"] <= 1e-5  # values within an ulp
                    moved = 2 * n_bytes
                    seconds = per_call_seconds(lambda t=tiles: fused_passes.softmax_grad_(work, lse_ref, coef, t),
                                               device, args.calls, args.repeats)
                row.update(seconds=seconds, gbps=moved / seconds / 1e9, ok=ok)
            except Exception as err:  # noqa: BLE001 - one shape failing (resources) must not lose the others
                row["error"] = f"{type(err).__name__}: {str(err)[:120]}"
            out[kernel].append(row)
    for kernel, floor_bytes in (("lse", n_bytes), ("grad", 2 * n_bytes)):
        rows = out[kernel]
        print(f"\n## (b) {kernel} kernel on a {tuple(z.shape)} {str(z.dtype).removeprefix('torch.')} buffer: "
              f"{floor_bytes / 1e9:.2f} GB moved, floor {floor_bytes / copy_rate / 1e6:.3f} ms at the copy rate "
              f"{copy_rate:,.0f} GB/s (read + write, this run)")
        print("| rows | cols | steps | warps | lanes | ms | GB/s | of copy rate | check |\n|---|---|---|---|---|---|---|---|---|")
        for row in rows:
            t = row["tiles"]
            shape = f"| {t.rows} | {t.cols} | {t.steps} | {t.warps} | {'yes' if t.lanes else 'no'} |"
            if "error" in row:
                print(f"{shape} failed: {row['error']} | | | |")
                continue
            mark = " (table)" if row["table"] else ""
            print(f"{shape} {1e3 * row['seconds']:.3f}{mark} | {row['gbps']:,.0f} | {row['gbps'] / copy_rate:.0%} | "
                  f"{'ok' if row['ok'] else 'WRONG'} {row['check']:.1e} |")
        if skipped[kernel]:
            print(f"({skipped[kernel]} shapes not tried: --budget-s reached)")
    return out


def fastest(rows: list[dict]) -> Tiles | None:
    good = [row for row in rows if row.get("ok")]
    return min(good, key=lambda row: row["seconds"])["tiles"] if good else None


@contextmanager
def tables_set(itemsize: int, lse: Tiles, grad: Tiles):
    """:data:`LSE_TILES` and :data:`GRAD_TILES` for ``itemsize`` set to one shape each, restored after."""
    before = LSE_TILES[itemsize], GRAD_TILES[itemsize]
    LSE_TILES[itemsize], GRAD_TILES[itemsize] = ((0, lse),), ((0, grad),)
    try:
        yield
    finally:
        LSE_TILES[itemsize], GRAD_TILES[itemsize] = before


def main() -> None:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--rank", type=int, default=512)
    parser.add_argument("--batch", type=int, default=6000)
    parser.add_argument("--vocab", type=int, default=100_000)
    parser.add_argument("--precision", default="bf16", choices=["bf16", "tf32"], help="bf16: a bf16 buffer; tf32: fp32")
    parser.add_argument("--elementwise", default="auto", choices=["auto", "fused"],
                        help="the step's passes (fused on a CPU: under TRITON_INTERPRET=1)")
    parser.add_argument("--calls", type=int, default=10, help="kernel calls in a row per timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top", type=int, default=15, help="kernels listed in (a)")
    parser.add_argument("--budget-s", type=float, default=80.0, help="stop trying shapes after this many seconds")
    parser.add_argument("--shapes", type=int, help="shapes of each grid tried after the table's (default all)")
    parser.add_argument("--quick", action="store_true", help="d 64, rank 32, batch 32, W 1500, 2 shapes: a smoke run")
    add_run_options(parser)
    args = parser.parse_args()
    if args.quick:
        args.dim, args.rank, args.batch, args.vocab, args.calls, args.repeats = 64, 32, 32, 1500, 2, 1
        args.shapes = 2 if args.shapes is None else args.shapes
    device = device_of(args)
    kernels_run = device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"
    print(f"# bf16 step profile: d={args.dim} rank={args.rank} batch={args.batch} (x2 views) W={args.vocab}, "
          f"{args.precision}; {machine(device)}")
    result: dict = {"sizes": {k: getattr(args, k) for k in ("dim", "rank", "batch", "vocab")}, "machine": machine(device),
                    "precision": args.precision}
    step = one_step(args, device, args.precision)
    try:
        result["profile"] = profile_step(args, device, step)
    except Exception as err:  # noqa: BLE001 - a profiler that cannot trace here must not lose (b) and (c)
        print(f"\n## (a) failed: {type(err).__name__}: {err}")
        result["profile_error"] = f"{type(err).__name__}: {err}"
    save_json(args, result)
    if not kernels_run:
        print("\nno CUDA device and TRITON_INTERPRET is not 1: the fused kernels are not measured")
        return
    copy_rate = copy_gbps(device, 1.0 if device.type == "cuda" else 0.05, 5)
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    z = buffer_for(args, device, dtype)
    table = fused_passes.tiles_for(LSE_TILES, z), fused_passes.tiles_for(GRAD_TILES, z)
    shapes = measure_shapes(args, device, z, started + args.budget_s - STEP_SECONDS, copy_rate)
    del z
    result.update(copy_gbps=copy_rate, shapes={k: [{**r, "tiles": asdict(r["tiles"])} for r in rows]
                                               for k, rows in shapes.items()})
    save_json(args, result)
    best = {k: fastest(rows) for k, rows in shapes.items()}
    peak = matmul_tflops(dtype, device, 8192 if device.type == "cuda" else 512, 5, "tf32")
    itemsize = dtype.itemsize
    steps = [("tables' shapes", table)]
    if None not in best.values() and (best["lse"], best["grad"]) != table:
        steps.append(("fastest measured shapes", (best["lse"], best["grad"])))
    print(f"\n## (c) the {args.precision} step ({step_gflop(args):.1f} GFLOP); {args.precision} matrix-product peak "
          f"{peak:.4g} TFLOP/s (this run)")
    print("| shapes | forward | backward | ms | TFLOP/s | of the peak |\n|---|---|---|---|---|---|")
    result["steps"] = []
    for name, (lse, grad) in steps:
        try:
            with tables_set(itemsize, lse, grad):
                seconds = time_steps(step, args.repeats, device)
        except Exception as err:  # noqa: BLE001 - the shapes' tables above stand on their own
            print(f"| {name} | {label(lse)} | {label(grad)} | failed: {type(err).__name__}: {err} | | |")
            continue
        rate = step_gflop(args) / 1e3 / seconds
        print(f"| {name} | {label(lse)} | {label(grad)} | {1e3 * seconds:.2f} | {rate:.4g} | {rate / peak:.0%} |")
        result["steps"].append({"shapes": name, "lse": asdict(lse), "grad": asdict(grad), "seconds": seconds,
                                "tflops": rate, "share": rate / peak})
    if None not in best.values():
        print(f"\nfastest, as table entries: LSE_TILES[{itemsize}] = ((0, {best['lse']!r}),); "
              f"GRAD_TILES[{itemsize}] = ((0, {best['grad']!r}),)")
    result.update(peak_tflops=peak, seconds=time.perf_counter() - started)
    print(f"\n{result['seconds']:.0f} s in all")
    save_json(args, result)


if __name__ == "__main__":
    main()
