"""The thesis's curve figures (seed 002 chapter 5) from similarity files.

Every layout is ``layout(spec, inputs, name, out_prefix)`` like :mod:`flip_pipeline.report.figures`:
``spec`` holds ``labels`` (model → panel title), ``caption`` and layout options; scores are
drawn beside their chance level, never alone. Figures 5.1 and 5.5 add a row below each
panel: the change from each layer to the next, with its paired interval where there is one
and the change of the chance level beside it (:mod:`flip_pipeline.report.thesis_changes`).
The heatmaps and t-SNE maps are in :mod:`flip_pipeline.report.thesis_maps`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.similarity_scores import read_scores
from flip_pipeline.report import figures  # save_figure looked up when called (a test replaces it)
from flip_pipeline.report.figures import plt, wrap_caption
from flip_pipeline.report.thesis_changes import consecutive_changes
from flip_pipeline.report.thesis_results import RESOURCE_LEVELS, per_layer


def _panels(n: int, width: float = 5.0, height: float = 3.4, changes: bool = False):
    """``(fig, score axes, change axes or Nones)``: one column per panel, a change row below when asked."""
    if not changes:
        fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
        return fig, list(axes[0]), [None] * n
    fig, axes = plt.subplots(2, n, figsize=(width * n, height * 1.6), squeeze=False, sharex="col",
                             gridspec_kw={"height_ratios": [2, 1]})
    return fig, list(axes[0]), list(axes[1])


def _axis_layers(block: pd.DataFrame) -> list[str]:
    """The layers of every curve of one panel, in layer order (a speech-only ``adaptor`` included)."""
    return list(block.sort_values("order", kind="stable").layer.drop_duplicates())


def _curve(ax, curve: pd.DataFrame, axis: list[str], label: str, color, band: bool) -> None:
    """One score line with its chance (dashed), permutation-null 95th percentile (dotted) and
    the mean bootstrap interval (shaded), at the positions of its layers on ``axis``."""
    x = np.array([axis.index(layer) for layer in curve.layer])
    ax.plot(x, curve.score, marker="o", ms=3, color=color, label=label)
    ax.plot(x, curve.chance, ls="--", lw=1, color=color, label=f"{label} chance")
    ax.plot(x, curve.null_p95, ls=":", lw=1, color=color)
    if band:
        ax.fill_between(x, curve.ci_low, curve.ci_high, color=color, alpha=0.15, lw=0)


def _steps(ax, steps: pd.DataFrame, axis: list[str], color, offset: float) -> bool:
    """The changes of one curve at the position of the layer each arrives at: the change (dot)
    with its paired interval (bar; a filled star where it excludes 0), chance's change (x).
    Returns whether a change had no interval."""
    x = np.array([axis.index(layer) for layer in steps.layer_to], dtype=float) + offset
    has = steps.ci_low.notna().to_numpy()
    ax.plot(x, steps.chance_change, ls="none", marker="x", ms=3, color=color, alpha=0.6)
    ax.plot(x[~has], steps.change[~has], ls="none", marker="o", ms=3, mfc="none", color=color)
    if has.any():
        low, high = steps.ci_low[has].to_numpy(), steps.ci_high[has].to_numpy()
        change = steps.change[has].to_numpy()
        ax.vlines(x[has], low, high, color=color, lw=1)  # a percentile interval need not hold the change itself
        ax.plot(x[has], change, ls="none", marker="o", ms=3, color=color)
        apart = (low > 0) | (high < 0)
        ax.plot(x[has][apart], change[apart], ls="none", marker="*", ms=8, color=color)
    return bool((~has).any())


def _change_axis(ax, note: bool) -> None:
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylabel("Δ from the layer before", fontsize=7)
    if note:
        ax.text(0.01, 0.02, "open dots: no interval (n small for the dimension)", transform=ax.transAxes,
                fontsize=6, color="grey")


def _layer_axis(ax, layers: list[str]) -> None:
    step = max(1, len(layers) // 12)
    ticks = list(range(0, len(layers), step))
    ax.set_xticks(ticks, [layers[i].replace("layer_", "") for i in ticks], rotation=45, fontsize=7)
    ax.set_xlabel("layer")


def _by_model(frame: pd.DataFrame, spec: dict) -> list[tuple[str, pd.DataFrame]]:
    return [(spec.get("labels", {}).get(m, m), frame[frame.encoder == m]) for m in dict.fromkeys(frame.encoder)]


def _curves_with_changes(spec: dict, frame: pd.DataFrame, series: str, name: str, out_prefix: str,
                         ylabel: str) -> None:
    """One column per model: the curves of ``frame`` grouped by ``series`` (``method`` or
    ``analysis``) above, their layer-to-layer changes below."""
    curves, changes = per_layer(frame), consecutive_changes(frame)
    models = _by_model(curves, spec)
    fig, axes, below = _panels(len(models), changes=True)
    for ax, low, (label, block) in zip(axes, below, models):
        axis = _axis_layers(block)
        missing = False
        groups = list(block.groupby(series, sort=False))
        for i, (key, curve) in enumerate(groups):
            short = key.replace("cross_lingual_", "intra-")
            _curve(ax, curve, axis, short, f"C{i}", band=True)
            steps = changes[(changes.encoder == curve.encoder.iloc[0]) & (changes[series] == key)
                            & (changes.analysis.isin(set(curve.analysis)))]
            missing |= _steps(low, steps, axis, f"C{i}", 0.1 * (i - (len(groups) - 1) / 2))
        _change_axis(low, missing)
        _layer_axis(low, axis)
        ax.set_title(label, fontsize=9)
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=6, ncols=2)
    fig.suptitle(wrap_caption(spec.get("caption", name)), fontsize=8)
    figures.save_figure(fig, out_prefix)


def cross_modal_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """Figure 5.1: per model, every method's mean cross-modal score per layer with its chance,
    and below it the change from each layer to the next."""
    _curves_with_changes(spec, read_scores(inputs), "method", name, out_prefix, "similarity")


def cross_modal_by_resource_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """Figures 5.2–5.4: one model's cross-modal SVCCA per layer, one panel per resource level."""
    frame = read_scores(inputs)
    method = spec.get("method", "svcca")
    frame = frame[frame.method == method]
    if frame.empty:
        raise FlipInputError(f"{name}: no {method} scores in {inputs}")
    curves = per_layer(frame, by=("resource_a",))
    levels = [r for r in RESOURCE_LEVELS if r in set(curves.resource_a)]
    fig, axes, _ = _panels(len(levels) + 1, width=4.2)
    for ax, level in zip(axes, ["all", *levels]):
        curve = per_layer(frame) if level == "all" else curves[curves.resource_a == level]
        _curve(ax, curve, list(curve.layer), method, "C0", band=True)
        _layer_axis(ax, list(curve.layer))
        languages = frame.language_a.nunique() if level == "all" else frame[frame.resource_a == level].language_a.nunique()
        ax.set_title(f"{level} ({languages} languages)", fontsize=9)
    axes[0].set_ylabel(f"{method} similarity")
    axes[0].legend(fontsize=6)
    fig.suptitle(wrap_caption(f"{spec.get('labels', {}).get(frame.encoder.iloc[0], frame.encoder.iloc[0])}: "
                        f"{spec.get('caption', name)}"), fontsize=8)
    figures.save_figure(fig, out_prefix)


def cross_lingual_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """Figure 5.5: per model, the mean cross-lingual SVCCA per layer within text and within speech,
    and below it the change from each layer to the next."""
    frame = read_scores(inputs)
    method = spec.get("method", "svcca")
    _curves_with_changes(spec, frame[frame.method == method], "analysis", name, out_prefix, f"{method} similarity")


THESIS_FIGURE_LAYOUTS = {
    "cross_modal": cross_modal_figure,
    "cross_modal_by_resource": cross_modal_by_resource_figure,
    "cross_lingual": cross_lingual_figure,
}
