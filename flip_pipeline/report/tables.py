"""Tables of test accuracy (percent, mean ± standard error) from evaluation summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from flip_pipeline.atomic import atomic_path, write_text
from flip_pipeline.errors import FlipInputError


def probe_label(probe: str, rank) -> str:
    """``("flip", 256)`` → ``"FLiP r=256"``; ``("lip", None)`` → ``"LiP"``."""
    return "LiP" if probe == "lip" else f"FLiP r={rank}"


def collect_results(entries: list[dict], inputs: list[str]) -> pd.DataFrame:
    """One row per (run, test view): the entry's fields plus accuracy mean/se/n in percent."""
    by_path = {str(Path(e["path"])): e for e in entries}
    rows = []
    for path in inputs:
        entry = by_path.get(str(Path(path)))
        if entry is None:
            raise FlipInputError(f"{path}: not described by the report spec")
        summary = json.loads(Path(path).read_text(encoding="utf-8"))
        acc = summary["accuracy"]
        rows.append({
            "encoder": entry["encoder"],
            "probe": probe_label(entry["probe"], entry["rank"]),
            "alpha": entry["alpha"],
            "train_views": "+".join(entry["train_views"]),
            "test_view": entry["view"],
            "accuracy": 100 * acc["mean"],
            "accuracy_se": 100 * acc["se"],
            "n": acc["n"],
            "skipped": summary["n_skipped_no_in_vocab_token"],
            "run": entry["run"],
        })
    return pd.DataFrame(rows)


def write_accuracy_table(results: pd.DataFrame, name: str, caption: str, out_prefix: str) -> None:
    """``{out_prefix}.csv`` (tidy, one row per run and test view) and ``.md`` (encoders × probe/view)."""
    with atomic_path(f"{out_prefix}.csv") as tmp:
        results.to_csv(tmp, index=False, float_format="%.4f")
    cells = results.assign(cell=[f"{m:.2f} ± {s:.2f}" for m, s in zip(results.accuracy, results.accuracy_se)])
    wide = cells.pivot_table(index="encoder", columns=["test_view", "probe"], values="cell", aggfunc="first", sort=False)
    header = "| encoder | " + " | ".join(f"{view} {probe}" for view, probe in wide.columns) + " |"
    lines = [f"# {name}", "", caption, "", header, "|" + "---|" * (len(wide.columns) + 1)]
    lines += [f"| {enc} | " + " | ".join(str(v) for v in row) + " |" for enc, row in zip(wide.index, wide.to_numpy())]
    n = results.n.min()
    lines += ["", f"Test accuracy in percent (mean ± standard error over at least {n} sentences; "
                  "k = number of distinct in-vocabulary words of each sentence)."]
    write_text(f"{out_prefix}.md", "\n".join(lines) + "\n")
