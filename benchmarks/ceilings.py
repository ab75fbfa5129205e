"""The device's own ceilings, measured in this run: matrix-product rates and copy bandwidths.

* matrix products: square ``--size``³ products on random data (never zeros: they run faster),
  in true float32 (cuBLAS's IEEE mode), TF32 (a GPU's float32 tensor-core mode) and bf16;
  TFLOP/s of the median of ``--repeats`` after a warm-up;
* copies: a ``--copy-gib`` device-to-device (or, on a CPU, memory-to-memory) copy, counting
  bytes read plus bytes written; host-to-device from pinned memory (a GPU only), bytes moved.

The other benchmarks set their results against these (``benchmarks/gpu_table.py``).

    python benchmarks/ceilings.py --device cuda     # 8192³ products, 2 GiB copies
    python benchmarks/ceilings.py --device cpu      # 4096³ products, 1 GiB copies
"""

from __future__ import annotations

import argparse
import statistics

import torch
from synthetic import add_run_options, device_of, device_seconds, machine, save_json

from flip_pipeline.training.precision import matmul_precision

GIB = 2**30


def median_seconds(fn, device: torch.device, repeats: int) -> float:
    """Median wall-clock seconds (device work included) of ``repeats`` calls after one warm-up."""
    fn()
    return statistics.median(device_seconds(fn, device) for _ in range(repeats))


def matmul_tflops(dtype: torch.dtype, device: torch.device, size: int, repeats: int, mode: str = "fp32") -> float:
    """TFLOP/s of a square ``size``³ product of random ``dtype`` matrices; ``mode`` (``fp32`` or
    ``tf32``) is cuBLAS's float32 mode (:func:`~flip_pipeline.training.precision.matmul_precision`)."""
    g = torch.Generator(device=device).manual_seed(0)
    a, b = (torch.randn(size, size, generator=g, device=device).to(dtype) for _ in range(2))
    with matmul_precision(mode, device):
        seconds = median_seconds(lambda: a @ b, device, repeats)
    return 2 * size**3 / seconds / 1e12


def copy_gbps(device: torch.device, gib: float, repeats: int) -> float:
    """GB/s (bytes read + bytes written) of copying ``gib`` GiB within ``device``'s memory."""
    src = torch.rand(int(gib * GIB) // 4, device=device)
    dst = torch.empty_like(src)
    seconds = median_seconds(lambda: dst.copy_(src), device, repeats)
    return 2 * src.numel() * 4 / seconds / 1e9


def host_to_device_gbps(device: torch.device, gib: float, repeats: int) -> float:
    """GB/s of copying ``gib`` GiB from pinned host memory to ``device``."""
    src = torch.rand(int(gib * GIB) // 4).pin_memory()
    dst = torch.empty(src.shape, device=device)
    seconds = median_seconds(lambda: dst.copy_(src, non_blocking=True), device, repeats)
    return src.numel() * 4 / seconds / 1e9


def ceilings(device: torch.device, size: int, gib: float, repeats: int) -> dict[str, float | None]:
    """``{fp32, tf32, bf16}`` TFLOP/s, ``copy`` and ``host_to_device`` GB/s (``None`` where the
    device has no such thing: TF32 and pinned host copies on a CPU)."""
    gpu = device.type == "cuda"
    return {
        "fp32_tflops": matmul_tflops(torch.float32, device, size, repeats),
        "tf32_tflops": matmul_tflops(torch.float32, device, size, repeats, "tf32") if gpu else None,
        "bf16_tflops": matmul_tflops(torch.bfloat16, device, size, repeats),
        "copy_gbps": copy_gbps(device, gib, repeats),
        "host_to_device_gbps": host_to_device_gbps(device, gib, repeats) if gpu else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, help="matrix size (default 8192 on a GPU, 4096 on a CPU)")
    parser.add_argument("--copy-gib", type=float, help="GiB copied (default 2 on a GPU, 1 on a CPU)")
    parser.add_argument("--repeats", type=int, default=10)
    add_run_options(parser)
    args = parser.parse_args()
    device = device_of(args)
    gpu = device.type == "cuda"
    size, gib = args.size or (8192 if gpu else 4096), args.copy_gib or (2.0 if gpu else 1.0)
    result = ceilings(device, size, gib, args.repeats)
    print(f"# ceilings: {size}^3 products, {gib:g} GiB copies, median of {args.repeats}; {machine(device)}")
    print("| measure | value |\n|---|---|")
    for key, value in result.items():
        unit = "TFLOP/s" if key.endswith("tflops") else "GB/s"
        print(f"| {key.rsplit('_', 1)[0]} | {'n/a' if value is None else f'{value:.4g} {unit}'} |")
    save_json(args, {"device": str(device), "name": machine(device), "size": size, "copy_gib": gib, **result})


if __name__ == "__main__":
    main()
