"""The t-SNE stage: one layer of every language and modality of a model → a 2-D map (seed 002 §3.3).

For each layer the speech and text representations of all languages are concatenated and
mapped together with scikit-learn's ``TSNE``. The thesis used its defaults (§4.3:
``n_components=2, perplexity=30, early_exaggeration=12.0, learning_rate='auto',
max_iter=1000``); the seed is fixed (``random_state``), so a map is reproducible on the
same machine and library version (recorded in the file).

A speech-only layer (SeamlessM4T's ``adaptor``, or a layer ``pairs`` maps to a text layer) is
mapped with the text views' partner layer, paired as the similarity stage pairs them
(:func:`~flip_pipeline.similarity.sets.layer_partner`: the adaptor with the last encoder layer),
so the map of Figure A.36 shows the speech after the length adaptor beside the text the thesis
compares it with; the file records each modality's layer (``flip.layers``).

Views of different widths (SALMONN's 2048-d ``speech_encoder`` mapped with its 4096-d text
``embeddings``) are zero-padded at the end to the widest, as the thesis does (§4.1.3: "the
speech encoder outputs before the Q-former were padded at the end with zeros from 2048 to
4096"); the log line and the file's ``flip.padded`` say which views were padded from what width.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import time
from typing import Any

import numpy as np
import pandas as pd

from flip_pipeline.errors import FlipInputError, first_line
from flip_pipeline.extras import require
from flip_pipeline.formats.layer_views import open_layer_view
from flip_pipeline.formats.tsne_map import write_map
from flip_pipeline.models.layer_names import SPEECH_ONLY
from flip_pipeline.progress import Progress, count, progress, stage_done
from flip_pipeline.similarity.sets import layer_partner

log = logging.getLogger(__name__)

#: The thesis's TSNE arguments (scikit-learn's defaults) and the seed; ``thesis.tsne`` overrides.
TSNE_DEFAULTS = {"perplexity": 30.0, "early_exaggeration": 12.0, "learning_rate": "auto", "max_iter": 1000,
                 "init": "pca", "seed": 0}


def layer_rows(language: str, modality: str, layers_dir: str, layer: str, pairs: dict[str, str] | None = None,
               encoder: str | None = None) -> tuple[str, np.ndarray, np.ndarray]:
    """``(layer read, ids (n,), vectors (n, d) float32)`` of one layer of one extracted view (of
    ``encoder``'s layers, when given): a text view lacking a speech-only ``layer`` gives its partner
    (see the module); an error names the folder and the layers it has when it lacks ``layer``."""
    pairs = pairs or {}
    view = open_layer_view(language, modality, layers_dir, encoder)
    read = layer
    if modality == "text" and (layer in pairs or (layer in SPEECH_ONLY and layer not in view.layers)):
        read = layer_partner(layer, view.layers, pairs)
        if read is None:
            raise FlipInputError(f"{layers_dir}: no text partner {pairs.get(layer, 'layer_NN')!r} of the speech layer "
                                 f"{layer!r} to map it with (it has: {', '.join(view.layers)}; "
                                 f"thesis.models.{encoder or '<model>'}.tsne_layers, thesis.similarity.pairs)")
    if read not in view.layers:
        raise FlipInputError(f"{layers_dir}: no layer {read!r} (it has: {', '.join(view.layers)})")
    return read, view.ids, view.read(read)


def tsne_stage(encoder: str, layer: str, views: dict[str, dict[str, str]], resource: dict[str, str],
             settings: dict[str, Any], out_path: str, pairs: dict[str, str] | None = None) -> pd.DataFrame:
    """Map ``layer`` of every view in ``views`` together and write ``out_path``.

    Args:
        encoder: the model's ``encoders.<name>`` (recorded).
        layer: a layer name, e.g. ``"layer_04"``.
        views: ``{language: {modality: layers folder}}`` (``layout.layers_dir``).
        resource: ``{language: resource level}``.
        settings: ``thesis.tsne``: :data:`TSNE_DEFAULTS` keys, and ``max_per_language``
            (first rows of each view kept; default all).
        out_path: ``tsne/{encoder}/{layer}.parquet``.
        pairs: ``thesis.similarity.pairs``, speech layer → text layer (see the module).

    Returns:
        The points, ``(n_total, 6)``: id, language, modality, resource, x, y.
    """
    started = time.perf_counter()
    require("thesis", "t-SNE (scikit-learn)", "sklearn")
    from sklearn import __version__ as sklearn_version
    from sklearn.manifold import TSNE
    from sklearn.utils._param_validation import InvalidParameterError

    options = {**TSNE_DEFAULTS, **{k: v for k, v in settings.items() if k != "max_per_language"}}
    cap = settings.get("max_per_language")
    blocks, labels, read = [], [], {}
    for language, by_modality in views.items():
        for modality, folder in by_modality.items():
            read[modality], ids, vectors = layer_rows(language, modality, folder, layer, pairs, encoder)
            ids, vectors = ids[:cap], vectors[:cap]
            blocks.append(vectors)
            labels.append(pd.DataFrame({"id": ids.astype(str), "language": language, "modality": modality,
                                        "resource": resource.get(language, "")}))
    width = max(b.shape[1] for b in blocks)
    padded = {f"{lab['language'].iat[0]} {lab['modality'].iat[0]}": b.shape[1] for b, lab in zip(blocks, labels)
              if b.shape[1] < width and len(lab)}
    if padded:
        log.info("t-SNE of %s %s: zero-padded to %d: %s", encoder, layer, width,
                 ", ".join(f"{view} ({dim})" for view, dim in padded.items()))
    data = np.concatenate([np.pad(b, ((0, 0), (0, width - b.shape[1]))) for b in blocks]).astype(np.float64)
    if len(data) <= options["perplexity"] * 3:
        raise FlipInputError(f"t-SNE of {encoder} {layer}: {len(data)} points are too few for perplexity "
                             f"{options['perplexity']} (thesis.tsne.perplexity; scikit-learn needs more than 3x)")
    log.info("t-SNE of %s %s: %d points of dimension %d, %s", encoder, layer, len(data), data.shape[1],
             ", ".join(f"{key} {value}" for key, value in options.items()))
    seed = options.pop("seed")
    try:
        with progress(int(options["max_iter"]), "it", f"tsne {encoder} {layer}", log) as bar, \
                contextlib.redirect_stdout(_IterationReader(bar)):  # its verbose lines move the bar
            coords = TSNE(n_components=2, random_state=seed, verbose=2, **options).fit_transform(data)
    except (InvalidParameterError, TypeError) as err:  # a setting scikit-learn refuses (or does not know)
        raise FlipInputError(f"t-SNE of {encoder} {layer}: settings (thesis.tsne): {first_line(err)}") from None
    points = pd.concat(labels, ignore_index=True)
    points["x"], points["y"] = coords[:, 0], coords[:, 1]
    settings_json = json.dumps({**options, "seed": seed, "max_per_language": cap}, sort_keys=True)
    write_map(out_path, points, {"encoder": encoder, "layer": layer, "settings": settings_json,
                                 "layers": json.dumps(read, sort_keys=True), "padded": json.dumps(padded),
                                 "versions": f"scikit-learn {sklearn_version}"})
    stage_done(log, f"tsne {encoder} {layer}", started,
               read=f"{count(len(blocks), 'views')} ({', '.join(views)}), {count(len(data), 'points')} of "
                    f"dimension {data.shape[1]}", wrote=str(out_path))
    return points


class _IterationReader(io.TextIOBase):
    """Where scikit-learn's verbose t-SNE prints go while it runs: ``[t-SNE] Iteration 250: …`` (every 50
    iterations) moves ``bar`` to that iteration; every line is kept in the debug log."""

    ITERATION = re.compile(r"\[t-SNE\] Iteration (\d+)")

    def __init__(self, bar: Progress):
        self.bar = bar

    def write(self, text: str) -> int:
        for line in filter(None, map(str.strip, text.splitlines())):
            log.debug("scikit-learn: %s", line)
            if found := self.ITERATION.match(line):
                self.bar.reach(int(found[1]))
        return len(text)
