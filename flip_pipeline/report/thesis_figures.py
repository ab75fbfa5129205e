"""The thesis's figures (seed 002 chapter 5) from similarity and t-SNE files.

Every layout is ``layout(spec, inputs, name, out_prefix)`` like :mod:`flip_pipeline.report.figures`:
``spec`` holds ``labels`` (model → panel title), ``caption`` and layout options; scores are
drawn beside their chance level, never alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.similarity_scores import read_scores
from flip_pipeline.formats.tsne_map import read_map
from flip_pipeline.report.figures import plt, save_figure, wrap_caption
from flip_pipeline.report.thesis_results import per_layer

RESOURCE_LEVELS = ("high", "medium", "low")


def _panels(n: int, width: float = 5.0, height: float = 3.4):
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, list(axes[0])


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


def _layer_axis(ax, layers: list[str]) -> None:
    step = max(1, len(layers) // 12)
    ticks = list(range(0, len(layers), step))
    ax.set_xticks(ticks, [layers[i].replace("layer_", "") for i in ticks], rotation=45, fontsize=7)
    ax.set_xlabel("layer")


def _by_model(frame: pd.DataFrame, spec: dict) -> list[tuple[str, pd.DataFrame]]:
    return [(spec.get("labels", {}).get(m, m), frame[frame.encoder == m]) for m in dict.fromkeys(frame.encoder)]


def cross_modal_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """Figure 5.1: per model, every method's mean cross-modal score per layer with its chance."""
    curves = per_layer(read_scores(inputs))
    models = _by_model(curves, spec)
    fig, axes = _panels(len(models))
    for ax, (label, block) in zip(axes, models):
        axis = _axis_layers(block)
        for i, (method, curve) in enumerate(block.groupby("method", sort=False)):
            _curve(ax, curve, axis, method, f"C{i}", band=True)
        _layer_axis(ax, axis)
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("similarity")
    axes[0].legend(fontsize=6, ncols=2)
    fig.suptitle(wrap_caption(spec.get("caption", name)), fontsize=8)
    save_figure(fig, out_prefix)


def cross_modal_by_resource_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """Figures 5.2–5.4: one model's cross-modal SVCCA per layer, one panel per resource level."""
    frame = read_scores(inputs)
    method = spec.get("method", "svcca")
    frame = frame[frame.method == method]
    if frame.empty:
        raise FlipInputError(f"{name}: no {method} scores in {inputs}")
    curves = per_layer(frame, by=("resource_a",))
    levels = [r for r in RESOURCE_LEVELS if r in set(curves.resource_a)]
    fig, axes = _panels(len(levels) + 1, width=4.2)
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
    save_figure(fig, out_prefix)


def cross_lingual_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """Figure 5.5: per model, the mean cross-lingual SVCCA per layer within text and within speech."""
    frame = read_scores(inputs)
    method = spec.get("method", "svcca")
    curves = per_layer(frame[frame.method == method])
    models = _by_model(curves, spec)
    fig, axes = _panels(len(models))
    for ax, (label, block) in zip(axes, models):
        axis = _axis_layers(block)
        for i, (analysis, curve) in enumerate(block.groupby("analysis", sort=False)):
            _curve(ax, curve, axis, analysis.replace("cross_lingual_", "intra-"), f"C{i}", band=True)
        _layer_axis(ax, axis)
        ax.set_title(label, fontsize=9)
        ax.set_ylabel(f"{method} similarity")
    axes[0].legend(fontsize=6)
    fig.suptitle(wrap_caption(spec.get("caption", name)), fontsize=8)
    save_figure(fig, out_prefix)


def heatmap_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """Language × language SVCCA at each of ``spec["layers"]`` (rows ``language_a``); the panel
    title gives the mean chance level of its cells."""
    frame = read_scores(inputs)
    frame = frame[frame.method == spec.get("method", "svcca")]
    layers = spec.get("layers", ["embeddings"])
    missing = [layer for layer in layers if layer not in set(frame.layer)]
    if missing:
        raise FlipInputError(f"{name}: heatmap_layers {missing} are not among the layers of {inputs[0]} "
                             f"({', '.join(dict.fromkeys(frame.layer))})")
    languages = sorted(set(frame.language_a) | set(frame.language_b))
    fig, axes = _panels(len(layers), width=0.35 * len(languages) + 2.5, height=0.35 * len(languages) + 1.8)
    for ax, layer in zip(axes, layers):
        cells = frame[frame.layer == layer]
        matrix = cells.pivot_table(index="language_a", columns="language_b", values="score").reindex(
            index=languages, columns=languages)
        image = ax.imshow(matrix.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(languages)), languages, rotation=90, fontsize=6)
        ax.set_yticks(range(len(languages)), languages, fontsize=6)
        ax.set_title(f"{layer} (chance {cells.chance.mean():.2f})", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle(wrap_caption(f"{spec.get('labels', {}).get(frame.encoder.iloc[0], frame.encoder.iloc[0])}, "
                        f"{frame.analysis.iloc[0]}: {spec.get('caption', name)}"), fontsize=8)
    save_figure(fig, out_prefix)


def tsne_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """The t-SNE map of one layer: colour = language, marker = modality (``o`` text, ``^`` speech)."""
    points, meta = read_map(inputs[0])
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    languages = sorted(set(points.language))
    colors = plt.get_cmap("tab20", max(len(languages), 1))
    for i, lang in enumerate(languages):
        for modality, marker in (("text", "o"), ("speech", "^")):
            sel = points[(points.language == lang) & (points.modality == modality)]
            if len(sel):
                ax.scatter(sel.x, sel.y, s=6, marker=marker, color=colors(i), alpha=0.7,
                           label=f"{lang} {modality}", linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=5, ncols=max(1, len(languages) // 10), markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5))
    encoder, layer = meta.get("encoder", ""), meta.get("layer", "")
    ax.set_title(wrap_caption(f"{spec.get('labels', {}).get(encoder, encoder)}, {layer}: {spec.get('caption', name)}"),
                 fontsize=7)
    save_figure(fig, out_prefix)


THESIS_FIGURE_LAYOUTS = {
    "cross_modal": cross_modal_figure,
    "cross_modal_by_resource": cross_modal_by_resource_figure,
    "cross_lingual": cross_lingual_figure,
    "heatmap": heatmap_figure,
    "tsne": tsne_figure,
}
