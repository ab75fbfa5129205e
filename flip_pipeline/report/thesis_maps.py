"""The thesis's appendix figures (seed 002, Appendix A.3–A.4): language × language heatmaps,
their changes between two layers, and t-SNE maps (by language and modality, or by sentence id).

Every layout is ``layout(spec, inputs, name, out_prefix)``. A heatmap layer is named by the
side-``a`` layer (``adaptor`` finds the speech-text analysis's ``adaptor/layer_24``); a layer
the analysis lacks is an error naming ``heatmap_layers`` or ``heatmap_changes``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.similarity_scores import read_scores
from flip_pipeline.formats.tsne_map import read_map
from flip_pipeline.report import figures  # save_figure looked up when called (a test replaces it)
from flip_pipeline.report.figures import plt, wrap_caption
from flip_pipeline.report.thesis_changes import COMPARISON, change_between

COLUMNS_PER_ROW = 2


def _grid(n: int, languages: int):
    """``(fig, axes)``: ``n`` square heatmap panels, two per row."""
    side = 0.3 * languages + 2.5
    cols = min(n, COLUMNS_PER_ROW)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(side * cols, side * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _scores(spec: dict, inputs: list[str]) -> pd.DataFrame:
    frame = read_scores(inputs)
    frame = frame[frame.method == spec.get("method", "svcca")].copy()
    frame["side_layer"] = frame.layer_a  # a heatmap layer is named by side a's layer
    return frame


def _check_layers(frame: pd.DataFrame, layers: list[str], key: str, name: str, path: str) -> None:
    missing = [layer for layer in dict.fromkeys(layers) if layer not in set(frame.side_layer)]
    if missing:
        raise FlipInputError(f"{name}: {key} {missing} are not among the layers of {path} "
                             f"({', '.join(dict.fromkeys(frame.side_layer))})")


def _matrix(cells: pd.DataFrame, values: str, languages: list[str]) -> np.ndarray:
    return cells.pivot_table(index="language_a", columns="language_b", values=values).reindex(
        index=languages, columns=languages).to_numpy(dtype=float)


def _axes_labels(ax, languages: list[str]) -> None:
    ax.set_xticks(range(len(languages)), languages, rotation=90, fontsize=6)
    ax.set_yticks(range(len(languages)), languages, fontsize=6)


def _title(spec: dict, frame: pd.DataFrame, name: str) -> str:
    model = spec.get("labels", {}).get(frame.encoder.iloc[0], frame.encoder.iloc[0])
    return wrap_caption(f"{model}, {frame.analysis.iloc[0]}: {spec.get('caption', name)}")


def heatmap_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """Language × language SVCCA at each of ``spec["layers"]`` (rows ``language_a``); the panel
    title gives the mean chance level of its cells."""
    frame = _scores(spec, inputs)
    layers = spec.get("layers", ["embeddings"])
    _check_layers(frame, layers, "heatmap_layers", name, inputs[0])
    languages = sorted(set(frame.language_a) | set(frame.language_b))
    fig, axes = _grid(len(layers), len(languages))
    for ax, layer in zip(axes, layers):
        cells = frame[frame.side_layer == layer]
        image = ax.imshow(_matrix(cells, "score", languages), vmin=0, vmax=1, cmap="viridis")
        _axes_labels(ax, languages)
        ax.set_title(f"{cells.layer.iloc[0]} (chance {cells.chance.mean():.2f})", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle(_title(spec, frame, name), fontsize=8)
    figures.save_figure(fig, out_prefix)


def cell_changes(frame: pd.DataFrame, layer_from: str, layer_to: str) -> pd.DataFrame:
    """Per comparison (language pair), the change between two side-``a`` layers with its paired
    interval: columns :data:`~flip_pipeline.report.thesis_changes.COMPARISON` and those of
    :func:`~flip_pipeline.report.thesis_changes.change_between`."""
    labels = {side: frame[frame.side_layer == side].layer.iloc[0] for side in (layer_from, layer_to)}
    records = []
    for key, block in frame.groupby(COMPARISON, sort=False):
        records.append(dict(zip(COMPARISON, key)) | change_between(block, labels[layer_from], labels[layer_to],
                                                                   same_language=True))
    return pd.DataFrame.from_records(records)


def heatmap_change_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """The change of every language pair's SVCCA from one layer to another, one panel per
    ``spec["changes"]`` pair (later minus earlier; diverging colours centred on 0); a dot marks a
    cell whose paired interval excludes 0, and the title gives the mean change with chance's."""
    frame = _scores(spec, inputs)
    pairs = [tuple(pair) for pair in spec.get("changes", [])]
    _check_layers(frame, [layer for pair in pairs for layer in pair], "heatmap_changes", name, inputs[0])
    languages = sorted(set(frame.language_a) | set(frame.language_b))
    fig, axes = _grid(len(pairs), len(languages))
    for ax, (layer_from, layer_to) in zip(axes, pairs):
        cells = cell_changes(frame, layer_from, layer_to)
        off = cells[cells.language_a != cells.language_b]  # the mean of the curves: same-language cells left out
        matrix = _matrix(cells, "change", languages)
        bound = max(float(np.nanmax(np.abs(matrix))) if np.isfinite(matrix).any() else 0.0, 1e-3)
        image = ax.imshow(matrix, vmin=-bound, vmax=bound, cmap="RdBu_r")
        apart = cells[(cells.ci_low > 0) | (cells.ci_high < 0)]
        ax.plot([languages.index(b) for b in apart.language_b], [languages.index(a) for a in apart.language_a],
                ls="none", marker=".", ms=3, color="black")
        _axes_labels(ax, languages)
        intervals = "" if cells.ci_low.notna().any() else ", no intervals (n small for the dimension)"
        ax.set_title(f"{layer_from} → {layer_to}: mean {off.change.mean():+.3f} "
                     f"(chance {off.chance_change.mean():+.3f}){intervals}", fontsize=7)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle(_title(spec, frame, name), fontsize=8)
    figures.save_figure(fig, out_prefix)


def _map_title(spec: dict, meta: dict, name: str) -> str:
    encoder, layer = meta.get("encoder", ""), meta.get("layer", "")
    read = json.loads(meta.get("layers", "{}"))
    partner = f" (text: {read['text']})" if read.get("text", layer) != layer else ""
    return wrap_caption(f"{spec.get('labels', {}).get(encoder, encoder)}, {layer}{partner}: {spec.get('caption', name)}")


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
    ax.set_title(_map_title(spec, meta, name), fontsize=7)
    figures.save_figure(fig, out_prefix)


def tsne_ids_figure(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
    """The t-SNE map of one layer coloured by sentence id (marker = modality): FLEURS ids are
    shared by every language, so one colour is one sentence; every point is labelled with its id
    when there are at most ``spec["label_points"]`` (default 400) points, as the thesis's maps show them."""
    points, meta = read_map(inputs[0])
    ids = sorted(set(points.id), key=lambda i: (len(i), i))
    hue = {sentence: (k * 0.618034) % 1.0 for k, sentence in enumerate(ids)}  # neighbours in id order apart
    colors = plt.get_cmap("hsv")
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    for modality, marker in (("text", "o"), ("speech", "^")):
        sel = points[points.modality == modality]
        ax.scatter(sel.x, sel.y, s=6, marker=marker, c=[colors(hue[i]) for i in sel.id], alpha=0.8, linewidths=0,
                   label=modality)
    if len(points) <= spec.get("label_points", 400):
        for sentence, x, y in zip(points.id, points.x, points.y):
            ax.annotate(str(sentence), (x, y), fontsize=4, ha="left", va="bottom", color=colors(hue[sentence]))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=6, markerscale=2, loc="upper right")
    ax.set_title(_map_title(spec, meta, name) + f"\n{len(ids)} sentence ids, {points.language.nunique()} languages",
                 fontsize=7)
    figures.save_figure(fig, out_prefix)


THESIS_MAP_LAYOUTS = {
    "heatmap": heatmap_figure,
    "heatmap_change": heatmap_change_figure,
    "tsne": tsne_figure,
    "tsne_ids": tsne_ids_figure,
}
