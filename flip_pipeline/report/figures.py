"""Figures (PNG and PDF, rendered headless with matplotlib's Agg).

Every layout is ``layout(spec, inputs, name, out_prefix)``: it reads its inputs, draws and
writes ``{out_prefix}.png`` and ``.pdf`` atomically. Values are drawn in percent. Encoders are
named by their label (``encoders.<name>.label``, :func:`~flip_pipeline.models.encoder_label`),
and a figure with error bars says in its legend what they are (:data:`SE_BARS`).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from flip_pipeline.atomic import atomic_path  # noqa: E402
from flip_pipeline.errors import FlipInputError  # noqa: E402
from flip_pipeline.files import read_json_object  # noqa: E402
from flip_pipeline.report.results import collect_results, entries_for_inputs  # noqa: E402

#: ``savefig`` metadata per format: no ``CreationDate`` in the PDF (matplotlib's default is the time of saving).
UNDATED = {"png": None, "pdf": {"CreationDate": None}}


def save_figure(fig, out_prefix: str) -> None:
    """Write ``{out_prefix}.png`` (150 dpi) and ``.pdf`` atomically and close ``fig``; the
    saved area grows to hold legends placed outside the axes. The PDF carries no creation date, so
    the same figure is the same bytes on every run (a rerun shows no change, a diff shows none)."""
    fig.tight_layout()
    for ext in ("png", "pdf"):
        with atomic_path(f"{out_prefix}.{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight", metadata=UNDATED[ext])
    plt.close(fig)


def wrap_caption(caption: str) -> str:
    """The caption wrapped to lines of at most 90 characters."""
    return textwrap.fill(caption, 90)


#: The legend title of every figure whose error bars are standard errors.
SE_BARS = "error bars: ± 1 standard error of the mean over test sentences"


def _legend_below(ax, n_lines: int, title: str | None = None) -> None:
    """A frameless legend under the axes, up to four columns, with an optional title."""
    ax.legend(fontsize=7, ncols=min(4, n_lines), loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False,
              title=title, title_fontsize=7)


def _label(row) -> str:
    """The encoder's label of a result row or entry (its key where the spec predates labels)."""
    get = row.get if isinstance(row, dict) else lambda key, default=None: getattr(row, key, default)
    return get("encoder_label") or get("encoder") or ""


def accuracy_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """Grouped bars: test accuracy (%) per encoder, one bar per probe × test view, ± s.e."""
    results = collect_results(spec["entries"], inputs, name)
    groups = list(dict.fromkeys(zip(results.probe, results.test_view)))
    encoders = list(dict.fromkeys(results.encoder))
    tick_labels = [_label(results[results.encoder == encoder].iloc[0]) for encoder in encoders]
    width = 0.8 / len(groups)
    fig, ax = plt.subplots(figsize=(1.6 + 1.6 * len(encoders), 4.2))
    for g, (probe, view) in enumerate(groups):
        sel = results[(results.probe == probe) & (results.test_view == view)].drop_duplicates("encoder")
        sel = sel.set_index("encoder").reindex(encoders)
        x = np.arange(len(encoders)) + (g - (len(groups) - 1) / 2) * width
        ax.bar(x, sel.accuracy, width, yerr=sel.accuracy_se, label=f"{probe} · {view}", capsize=2)
    ax.set_xticks(np.arange(len(encoders)), [textwrap.fill(label, 16) for label in tick_labels])
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(wrap_caption(spec.get("caption", "")), fontsize=9)
    _legend_below(ax, len(groups), SE_BARS)
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, out_prefix)


def at_n_curve(summary: dict, metric: str, path: str) -> pd.DataFrame:
    """``metric@N`` of a summary for every ``N`` it holds: columns ``N``, ``mean``, ``se`` (percent), by ``N``."""
    pattern = re.compile(rf"{re.escape(metric)}@(\d+)")
    rows = [{"N": int(m[1]), "mean": 100 * v["mean"], "se": 100 * v["se"]}
            for key, v in summary.items() if (m := pattern.fullmatch(key))]
    if not rows:
        raise FlipInputError(f"{path}: summary has no {metric}@N entries")
    return pd.DataFrame(rows).sort_values("N")


def pr_curves_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """Precision@N and recall@N (%, ± s.e.) against N, one line per run × test view, two panels."""
    results = collect_results(spec["entries"], inputs, name)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.4), sharex=True)
    for ax, metric in zip(axes, ("precision", "recall")):
        for r in results.itertuples():
            curve = at_n_curve(r.summary, metric, r.path)
            ax.errorbar(curve.N, curve["mean"], yerr=curve.se, marker="o", ms=3, capsize=2,
                        label=f"{r.probe} · {_label(r)} · {'+'.join(r.train_views)} → {r.test_view}")
        ax.set_xlabel("N (top-N keywords)")
        ax.set_ylabel(f"{metric}@N (%)")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    fig.suptitle(wrap_caption(spec.get("caption", "")), fontsize=9)
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=7, ncols=2, loc="upper center",
               bbox_to_anchor=(0.5, 0.0), frameon=False, title=SE_BARS, title_fontsize=7)
    save_figure(fig, out_prefix)


def recall_curve(record: dict, bias: str, kind: str, path: str) -> np.ndarray:
    """``(len(ks),)`` mean recall in percent of one ``entity_recall.json`` series, e.g. ``("with_bias", "strict")``."""
    try:
        values = np.array([100 * point["mean"] for point in record[bias][kind]], dtype=np.float64)
    except (KeyError, TypeError) as err:
        raise FlipInputError(f"{path}: entity recall lacks {bias}.{kind}: {err}") from None
    if len(values) != len(record["ks"]):
        raise FlipInputError(f"{path}: {bias}.{kind} has {len(values)} points for {len(record['ks'])} ks")
    return values


def entity_recall_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """Figure 1: strict (solid) and partial (dashed) entity recall (%) against top-k, with and
    without the bias, for every ``entity_recall.json`` input."""
    fig, ax = plt.subplots(figsize=(6, 4.4))
    series = 0  # one colour per input × bias
    averages = set()
    for path, entry in zip(inputs, entries_for_inputs(name, spec["entries"], inputs)):
        record = read_json_object(path)
        if "ks" not in record:
            raise FlipInputError(f"{path}: not an entity recall file (no 'ks')")
        averages.add(record.get("average", "entity"))
        for bias, marker in (("without_bias", "o"), ("with_bias", "s")):
            for kind, style in (("strict", "-"), ("partial", "--")):
                label = f"{_label(entry)} {entry.get('view', '')} · {bias.replace('_', ' ')} · {kind}"
                ax.plot(record["ks"], recall_curve(record, bias, kind, path), style, marker=marker, ms=3,
                        color=f"C{series % 10}", label=label.strip())
            series += 1
    ax.set_xlabel("k (top-k words)")
    ax.set_ylabel(f"entity recall (%), mean over {' and '.join(f'{a}s' for a in sorted(averages))}")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.set_title(wrap_caption(spec.get("caption", "")), fontsize=9)
    _legend_below(ax, 2, "points: means (no error bars); solid: strict, dashed: partial")
    save_figure(fig, out_prefix)


FIGURE_LAYOUTS: dict[str, Callable[[dict, list[str], str, str], None]] = {
    "accuracy": accuracy_figure,
    "pr_curves": pr_curves_figure,
    "entity_recall": entity_recall_figure,
}
