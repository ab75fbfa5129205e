"""The thesis's appendix tables of reduced dimensions (seed 002, Tables A.1–A.7) and a check of
its Table 4.2's sentence counts against the corpora read.

* Tables A.1–A.6 (``cross_modal_dimensions``): the dimension each cross-modal set was reduced
  to (its own, at ``similarity.variance``), one row per layer and one column per language, for
  one model and modality: the ``reduced_a`` (speech) or ``reduced_b`` (text) of the SVCCA rows.
* Table A.7 (``cross_lingual_dimensions``): the shared dimension per model, layer and modality
  (:mod:`flip_pipeline.stages.shared_dimensions`).
* Table 4.2 (``fleurs_counts``): per language, the split size and the unique sentences the
  thesis printed beside those this run read (the corpus's ``info.json`` and table).

Every layout is ``layout(spec, inputs, name) -> Table``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from flip_pipeline.corpora.fleurs_languages import THESIS_LANGUAGES
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.similarity_scores import read_dimensions, read_scores
from flip_pipeline.models.layer_names import EMBEDDINGS, encoder_layer_index
from flip_pipeline.report.table_model import Cell, Table, labels
from flip_pipeline.report.thesis_results import settings_note

REDUCED_METHODS = ("svcca", "pwcca")  # the methods that see the reduced sets


def _layer_rank(layer: str) -> tuple[int, int]:
    """Model order of a layer name: embeddings, layer_01 …, then the extra stages."""
    index = encoder_layer_index(layer)
    return (0, 0) if layer == EMBEDDINGS else (1, index) if index is not None else (2, 0)


def cross_modal_dimensions(spec: dict, inputs: list[str], name: str) -> Table:
    """Tables A.1–A.6: one model's cross-modal reduced dimensions of ``spec["modality"]``."""
    frame = read_scores(inputs)
    frame = frame[frame.method.isin(REDUCED_METHODS)]
    if frame.empty:
        raise FlipInputError(f"{name}: {inputs[0]} has no SVCCA or PWCCA rows; only they reduce the sets")
    frame = frame[frame.method == frame.method.iloc[0]]
    side = "a" if spec["modality"] == frame.modality_a.iloc[0] else "b"
    sets = frame[[f"layer_{side}", f"language_{side}", f"reduced_{side}", "n"]].drop_duplicates()
    sets.columns = ["layer", "language", "dim", "n"]
    languages = sorted(set(sets.language))
    layers = list(dict.fromkeys(sets.layer))
    grid = sets.pivot_table(index="layer", columns="language", values="dim", aggfunc="first").reindex(
        index=layers, columns=languages)
    rows = [[*labels(layer), *(Cell("–" if pd.isna(v) else str(int(v))) for v in grid.loc[layer])] for layer in layers]
    model = spec.get("labels", {}).get(frame.encoder.iloc[0], frame.encoder.iloc[0])
    note = (f"{model}, {spec['modality']} sets of the cross-modal analysis (n = {int(sets.n.max())} sentences each): "
            "the reduced dimension of each set, the fewest top singular directions holding the share "
            "similarity.variance (Tables A.1-A.6 of the thesis list the same for n = 251). " + settings_note(inputs))
    tidy = sets.assign(encoder=frame.encoder.iloc[0], modality=spec["modality"])
    return Table(["Layer", *languages], rows, 1, tidy[["encoder", "modality", "layer", "language", "dim", "n"]], note)


def cross_lingual_dimensions(spec: dict, inputs: list[str], name: str) -> Table:
    """Table A.7: the shared cross-lingual dimension per layer, one column per model and modality."""
    frames = [read_dimensions(path)[0] for path in inputs]
    dims = pd.concat(frames, ignore_index=True)
    columns = list(dict.fromkeys(zip(dims.encoder, dims.modality)))
    layers = sorted(dict.fromkeys(dims.layer), key=_layer_rank)  # extra stages of two models: in the inputs' order
    by_cell = {(e, m, layer): d for e, m, layer, d in zip(dims.encoder, dims.modality, dims.layer, dims.dim)}
    rows = [[*labels(layer), *(Cell(str(by_cell[e, m, layer]) if (e, m, layer) in by_cell else "")
                               for e, m in columns)] for layer in layers]
    header = [f"{spec.get('labels', {}).get(e, e)} {m}" for e, m in columns]
    settings = json.dumps(read_dimensions(inputs[0])[1], sort_keys=True)
    used = ("The cross-lingual analyses reduced every set to these (similarity.cross_lingual_dimensions: shared)."
            if spec.get("shared", True) else
            "The cross-lingual analyses reduced each set to its own dimension instead "
            "(similarity.cross_lingual_dimensions: per_set); these are what Table A.7's procedure would use.")
    note = ("One dimension per model, layer and modality for every language: the smallest that leaves each "
            "cross-lingual set of that model, layer and modality at least similarity.variance of its variance, i.e. "
            f"the largest of their own dimensions. {used} Sets, own dimensions and sentences per set: the CSV. "
            f"Settings: {settings}.")
    return Table(["Layer", *header], rows, 1, dims, note)


def fleurs_counts(spec: dict, inputs: list[str], name: str) -> Table:
    """Table 4.2's sentence counts beside those read: per language, the split's rows in the
    source and the unique sentences kept (one recording per id)."""
    split = spec.get("split", "test")
    by_fleurs = {lang.fleurs: (code, lang) for code, lang in THESIS_LANGUAGES.items()}
    read = dict(zip(inputs[::2], inputs[1::2]))  # info.json → its corpus table of the split
    rows, tidy = [], []
    for language, entry in spec["languages"].items():
        info_path = next((p for p in read if p.endswith(f"/{entry['corpus']}/info.json")), None)
        if info_path is None:
            raise FlipInputError(f"{name}: no info.json of corpus {entry['corpus']!r} among the inputs")
        info = json.loads(Path(info_path).read_text(encoding="utf-8"))
        source_rows = info.get("rows_read", {}).get(split)
        kept = pq.read_metadata(read[info_path]).num_rows
        code, thesis = by_fleurs.get(entry["fleurs"], ("", None))
        thesis_rows = thesis.test_rows if thesis is not None and split == "test" else None
        thesis_unique = thesis.unique_rows if thesis is not None and split == "test" else None
        same = thesis_rows == source_rows and thesis_unique == kept
        rows.append([*labels(language, code or "–", entry["fleurs"], entry["resource"], ", ".join(entry["models"])),
                     Cell("–" if thesis_rows is None else str(thesis_rows)), Cell(str(source_rows)),
                     Cell("–" if thesis_unique is None else str(thesis_unique)), Cell(str(kept)),
                     Cell("yes" if same else "no" if thesis is not None else "–", shaded=not same)])
        tidy.append({"language": language, "code": code, "fleurs": entry["fleurs"], "resource": entry["resource"],
                     "models": " ".join(entry["models"]), "split": split, "thesis_rows": thesis_rows,
                     "rows_read": source_rows, "empty_skipped": info.get("empty_skipped", {}).get(split),
                     "missing_audio_skipped": info.get("missing_audio_skipped", {}).get(split),
                     "duplicates_dropped": info.get("duplicates_dropped", {}).get(split),
                     "thesis_unique": thesis_unique, "unique_read": kept, "same": same})
    columns = ["Language", "Table 4.2", "FLEURS", "Resource", "Models", "Thesis split size", "Split size read",
               "Thesis unique", "Unique read", "Same"]
    note = (f"Split {split!r}. Split size: rows of the split in the source; unique: sentences left with one "
            "recording per id (after empty transcriptions and missing clips). The thesis's counts are of the test "
            "split (Table 4.2: 'Text Split Size', 'Without Duplicates'); other splits have none. Skipped and dropped "
            "rows per language: the CSV.")
    return Table(columns, rows, 5, pd.DataFrame(tidy), note)


APPENDIX_TABLE_LAYOUTS = {"cross_modal_dimensions": cross_modal_dimensions,
                          "cross_lingual_dimensions": cross_lingual_dimensions, "fleurs_counts": fleurs_counts}
