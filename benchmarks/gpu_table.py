"""ONE table of a ``benchmarks/gpu.sh`` run: every part's result beside the code path it replaced
and its target or anchor, under the device's ceilings measured in the same run.

Reads ``{part}.json`` and ``{part}.status`` (exit status) of each part from the folder
``gpu.sh`` wrote them to; a part that failed or ran out of time gets a row saying so (its log is
in ``gpu_log.txt``). Writes the merged results to ``gpu_results.json`` there.

Anchors are the issue's measurements on an H200 before this work (torch 2.11, the code at
51267b8); "before" columns are measured in this run, on the code paths kept as references.

    python benchmarks/gpu_table.py /tmp/flip-gpu-check.XXXXXX --seconds 312
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PARTS = ("ceilings", "step", "evaluate", "extraction", "data_path", "epoch")
#: The issue's sizes of the step target (W, r, B, d) and its limit.
ISSUE_STEP = {"vocab": 100_000, "rank": 512, "batch": 6000, "dim": 1024}
STEP_LIMIT_MS = 8.5


def load(folder: Path) -> tuple[dict, dict]:
    """``({part: results}, {part: exit status or None})``."""
    results, statuses = {}, {}
    for part in PARTS:
        status_file, json_file = folder / f"{part}.status", folder / f"{part}.json"
        statuses[part] = int(status_file.read_text()) if status_file.exists() else None
        if json_file.exists():
            results[part] = json.loads(json_file.read_text(encoding="utf-8"))
    return results, statuses


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{1e3 * seconds:.2f} ms"


def ratio(before: float | None, now: float | None) -> str:
    return "—" if not before or not now else f"{before / now:.2f}x"


def step_rows(step: dict) -> list[tuple]:
    runs = {row["name"]: row for row in step["steps"]}
    sizes, peaks = step["sizes"], step["peaks_tflops"]
    label = (f"W {sizes['vocab']:,}, r {sizes['rank']}, B {sizes['batch']}x2, d {sizes['dim']}; bf16 peak "
             f"{peaks['bf16']:.3g} TFLOP/s")

    def now(name):
        row = runs.get(name, {})
        if "seconds" not in row:
            return None, f"failed: {row.get('error', 'not run')}"
        return row["seconds"], (f"{ms(row['seconds'])} = {row['tflops']:.3g} TFLOP/s = {row['share']:.0%} of its peak "
                                f"({row['elementwise']})")

    rows = []
    bf16_before, _ = now("ours before: bf16, torch passes, 1 GiB logits")
    bf16, bf16_text = now("ours: bf16")
    share = runs.get("ours: bf16", {}).get("share")
    issue_sizes = all(sizes[k] == v for k, v in ISSUE_STEP.items())
    ok = share is not None and share >= 0.6 and (not issue_sizes or bf16 * 1e3 <= STEP_LIMIT_MS)
    rows.append((f"bf16 step ({label})", ms(bf16_before) + " (torch passes)", bf16_text, ratio(bf16_before, bf16),
                 f">= 60% of bf16 peak{f' and <= {STEP_LIMIT_MS} ms' if issue_sizes else ''} "
                 "(anchor: 19.1 ms = 26%)", verdict(ok) if share is not None else "—"))
    fp32_before, _ = now("ours before: fp32, torch passes, 1 GiB logits")
    tf32, tf32_text = now("ours: tf32 (default)")
    rows.append(("default step: tf32 now, true fp32 before", ms(fp32_before) + " (fp32, torch passes)", tf32_text,
                 ratio(fp32_before, tf32), "anchor: 87.6 ms fp32; 26.8 ms with TF32 allowed", "—"))
    fp32, fp32_text = now("ours: fp32")
    rows.append(("precision fp32 step (true fp32)", ms(fp32_before), fp32_text, ratio(fp32_before, fp32),
                 "—", "—"))
    published, published_text = now("paper step (published, fp32)")
    rows.append(("published step (fp32) vs ours bf16 / tf32", published_text, f"{ratio(published, bf16)} / "
                 f"{ratio(published, tf32)} faster", "—", "anchor: 102.5 ms; ours bf16 5.3x", "—"))
    accuracy = step.get("accuracy")
    if accuracy:
        for name in ("tf32", "bf16"):
            gap = accuracy[name] - accuracy["fp32"]
            rows.append((f"accuracy check: {name} - fp32", f"fp32 {accuracy['fp32']:.2f}%",
                         f"{name} {accuracy[name]:.2f}% ({gap:+.2f} points)", "—", "within 0.5 points",
                         verdict(abs(gap) <= 0.5)))
    return rows


def evaluate_rows(ev: dict) -> list[tuple]:
    label = f"ranking top-{ev['depth']} of {ev['sentences']:,} sentences, W {ev['vocab']:,}, r {ev['rank']}"
    device_s = ev.get("device_rank_s")
    same = ev.get("identical_rows")
    agreement = "" if same is None else f"; {100 * same:.2f}% rows identical, {100 * ev['same_words']:.3f}% words"
    return [(label, f"{ev['cpu_rank_s']:.3f} s on the CPU", f"{device_s:.3f} s on the device{agreement}"
             if device_s else "— (no device)", ratio(ev["cpu_rank_s"], device_s),
             "anchor: 2.45 s on 16 CPU cores, 0.095 s on the GPU", "—")]


def extraction_rows(ex: dict) -> list[tuple]:
    rows = []
    for r in ex["rows"]:
        rows.append((f"MiniLM-L6 extraction, {r['set']} x{r['n']}, batch {r['batch_size']}",
                     f"{r['encode_per_s']:,.0f}/s encode()",
                     f"{r['ours_per_s']:,.0f}/s (max |diff| {r['max_abs_diff']:.1e}; bf16 {r['bf16_per_s']:,.0f}/s cos >= "
                     f"{r['bf16_cos_min']:.5f}; fp16 {r['fp16_per_s']:,.0f}/s cos >= {r['fp16_cos_min']:.5f})",
                     f"{r['ratio']:.2f}x", ">= 1.5x encode (anchor: 0.80-1.04x)", verdict(r["ratio"] >= 1.5)))
    return rows


def data_path_rows(dp: dict) -> list[tuple]:
    rates = {(r["dim"], r["path"], r["storage"]): r for r in dp["rates"]}
    rows = []
    for dim in sorted({r["dim"] for r in dp["rates"]}, reverse=True):
        serial = rates.get((dim, "streamed, serial (before)", "float32"))
        pooled = next((r for (d, path, _), r in rates.items() if d == dim and path.startswith("streamed, ")
                       and "serial" not in path), None)
        resident = rates.get((dim, "resident", "float32"))
        if serial and pooled:
            rate = pooled["sentences_per_s"]
            target = ">= 300,000/s (16 CPUs)" if dim == 1024 else "—"
            rows.append((f"streamed data path into the device, d {dim} ({dp['workers']} workers, {dp['cpus']} CPUs)",
                         f"{serial['sentences_per_s']:,.0f}/s serial", f"{rate:,.0f}/s ({pooled['gbps']:.2f} GB/s)",
                         f"{rate / serial['sentences_per_s']:.2f}x", target + " (anchor: 40k/s)",
                         verdict(rate >= 300_000) if dim == 1024 else "—"))
        if resident:
            rows.append((f"resident data path, d {dim}", "—", f"{resident['sentences_per_s']:,.0f}/s "
                         f"(loaded in {resident['load_s']:.1f} s)", "—", "device need ~650k/s at bf16", "—"))
    return rows


def epoch_rows(ep: dict) -> list[tuple]:
    runs = {row["name"]: row for row in ep["epochs"]}
    label = f"epoch, {ep['kept']:,} pairs, W {ep['vocab']:,}, r {ep['rank']}"
    published = runs.get("published loop (fp32)", {}).get("epoch_s")

    def text(name):
        row = runs.get(name)
        return None if row is None else (row["epoch_s"], f"{row['epoch_s']:.2f} s (data {row['data_s'] / row['epoch_s']:.0%}; "
                                                           f"{ep['kept'] / row['epoch_s']:,.0f} pairs/s)")

    pairs = [("resident", "ours before, resident (fp32, torch passes)", "ours, resident (tf32)"),
             ("resident, bf16", "ours before, resident (fp32, torch passes)", "ours, resident (bf16)"),
             ("streamed", "ours before, streamed serially (fp32, torch passes)", "ours, streamed (tf32)"),
             ("streamed, bf16", "ours before, streamed serially (fp32, torch passes)", "ours, streamed (bf16)")]
    rows = []
    for what, before_name, now_name in pairs:
        before, now = text(before_name), text(now_name)
        if before and now:
            rows.append((f"{label}, {what}", before[1], now[1], ratio(before[0], now[0]),
                         f"published loop {published:.2f} s (anchor: 10.1 s at 300k)" if published else "—", "—"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seconds", type=int, help="the whole run's time")
    args = parser.parse_args()
    results, statuses = load(args.folder)
    (args.folder / "gpu_results.json").write_text(json.dumps({"results": results, "exit": statuses}, indent=1),
                                                  encoding="utf-8")
    ceilings = results.get("ceilings", {})
    print(f"# GPU check (issue 24): {ceilings.get('name', results.get('step', {}).get('machine', '?'))}"
          + (f"; {args.seconds} s in all" if args.seconds is not None else ""))
    if ceilings:
        tf32, h2d = ceilings.get("tf32_tflops"), ceilings.get("host_to_device_gbps")
        print(f"ceilings, this run: matrix products fp32 {ceilings['fp32_tflops']:.3g}, TF32 "
              f"{'n/a' if tf32 is None else f'{tf32:.3g}'}, bf16 {ceilings['bf16_tflops']:.3g} TFLOP/s "
              f"({ceilings['size']}^3); device copy {ceilings['copy_gbps']:,.0f} GB/s (read + write); "
              f"host to device (pinned) {'n/a' if h2d is None else f'{h2d:,.1f}'} GB/s")
    print("\n| measure | before (reference path, this run) | now | speed-up | target (anchor: the issue's H200 run) "
          "| verdict |\n|---|---|---|---|---|---|")
    builders = {"step": step_rows, "evaluate": evaluate_rows, "extraction": extraction_rows,
                "data_path": data_path_rows, "epoch": epoch_rows}
    for part in PARTS:
        status = statuses.get(part)
        rows = []
        if part in builders and part in results:
            try:
                rows = builders[part](results[part])
            except (KeyError, TypeError, ZeroDivisionError) as err:
                rows = [(part, "—", f"results unreadable: {type(err).__name__}: {err}", "—", "—", "—")]
        if status != 0:
            why = "not run" if status is None else "timed out" if status in (124, 137) else f"failed (exit {status})"
            rows.append((part, "—", f"{why}; see gpu_log.txt", "—", "—", "—"))
        for row in rows:
            print("| " + " | ".join(str(cell) for cell in row) + " |")


if __name__ == "__main__":
    main()
