"""Figures from evaluation summaries (PNG and PDF, rendered headless with matplotlib's Agg)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from flip_pipeline.atomic import atomic_path  # noqa: E402


def write_accuracy_figure(results: pd.DataFrame, caption: str, out_prefix: str) -> None:
    """Grouped bars: test accuracy (%) per encoder, one bar per probe × test view, ± s.e."""
    groups = list(dict.fromkeys(zip(results.probe, results.test_view)))
    encoders = list(dict.fromkeys(results.encoder))
    width = 0.8 / len(groups)
    fig, ax = plt.subplots(figsize=(1.6 + 1.6 * len(encoders), 4.2))
    for g, (probe, view) in enumerate(groups):
        sel = results[(results.probe == probe) & (results.test_view == view)].set_index("encoder").reindex(encoders)
        x = np.arange(len(encoders)) + (g - (len(groups) - 1) / 2) * width
        ax.bar(x, sel.accuracy, width, yerr=sel.accuracy_se, label=f"{probe} · {view}", capsize=2)
    ax.set_xticks(np.arange(len(encoders)), encoders)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(caption, fontsize=9)
    ax.legend(fontsize=7, ncols=min(4, len(groups)), loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    for ext in ("png", "pdf"):
        with atomic_path(f"{out_prefix}.{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=150)
    plt.close(fig)
