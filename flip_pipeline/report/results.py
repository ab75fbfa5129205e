"""Evaluation summaries described by a report spec, as one table row per (run, test view).

Also the labels every layout shares: method names, view labels and number formats.
Numbers in the returned frames are percent (the summaries store fractions 0..1).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_json_object
from flip_pipeline.formats.corpus_table import view_language, view_modality
from flip_pipeline.settings import require_keys

METHOD_NAMES = {"lip": "LiP", "flip": "FLiP", "splice": "SpLiCE"}

# Entry fields copied into the frame; the layouts that need one check it with require().
ENTRY_FIELDS = ("details", "experiment", "run", "rank", "alpha", "encoder", "encoder_label", "corpus", "vocab",
                "vocab_view", "fingerprint", "selection")


def probe_label(method: str, rank) -> str:
    """``("flip", 256)`` → ``"FLiP r=256"``; ``("lip", None)`` → ``"LiP"``; ``"splice"`` → ``"SpLiCE"``."""
    return f"FLiP r={rank}" if method == "flip" else METHOD_NAMES.get(method, method)


def entries_for_inputs(name: str, entries: list[dict], inputs: list[str]) -> list[dict]:
    """The spec entry of every input file, in input order; an input no entry describes is an error."""
    if not isinstance(entries, list):
        raise FlipInputError(f"report {name}: the report spec's entries must be a list of entries")
    for i, entry in enumerate(entries):
        require_keys(entry, ("path",), f"report {name}: --spec entries[{i}]")
    by_path = {str(Path(e["path"])): e for e in entries}
    missing = [p for p in inputs if str(Path(p)) not in by_path]
    if missing:
        raise FlipInputError(f"report {name}: input {missing[0]} is not described by the report spec's entries")
    return [by_path[str(Path(p))] for p in inputs]


def collect_results(entries: list[dict], inputs: list[str], name: str = "") -> pd.DataFrame:
    """One row per input summary: the entry's fields plus accuracy mean/se/n in percent.

    Columns: ``path``, :data:`ENTRY_FIELDS` (``None`` where the entry lacks one),
    ``method`` (``lip``, ``flip``, ``splice``), ``probe`` (label), ``train_views`` (tuple), ``test_view``, ``accuracy``,
    ``accuracy_se`` (percent), ``n``, ``skipped`` and ``summary`` (the whole JSON); ``selection`` is
    a swept run's ``selected.json`` (:mod:`flip_pipeline.report.sweeps`).
    """
    rows = []
    for path, entry in zip(inputs, entries_for_inputs(name, entries, inputs)):
        summary = read_json_object(path)
        try:
            acc = summary["accuracy"]
            row = {
                "path": path, **{key: entry.get(key) for key in ENTRY_FIELDS},
                "method": entry["method"], "probe": probe_label(entry["method"], entry.get("rank")),
                "train_views": tuple(entry["train_views"]), "test_view": entry["view"],
                "accuracy": 100 * acc["mean"], "accuracy_se": 100 * acc["se"], "n": int(acc["n"]),
                "skipped": summary["n_skipped_no_in_vocab_token"], "summary": summary,
            }
        except (KeyError, TypeError) as err:
            raise FlipInputError(f"{path}: summary or its report spec entry lacks {err}") from None
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.assign(rank=pd.Series([row["rank"] for row in rows], dtype=object))  # 512 stays 512, None stays None


def require(results: pd.DataFrame, fields: list[str], name: str) -> None:
    """Raise naming table ``name`` and the run when an entry lacks one of ``fields``."""
    for field in fields:
        missing = results[results[field].isna()] if field in results else results
        if len(missing):
            raise FlipInputError(f"report {name}: the spec entry of run {missing.run.iloc[0]!r} "
                                 f"({missing.path.iloc[0]}) has no {field!r}")


def language(view: str) -> str:
    """``"speech_de"`` → ``"DE"``."""
    return view_language(view).upper()


def view_labels(views: list[str]) -> dict[str, str]:
    """Short column labels: the modality when all views share a language (``Text``, ``Speech``),
    the language when all share a modality (``EN``, ``DE``), else the view name."""
    if len({view_language(v) for v in views}) == 1:
        return {v: view_modality(v).capitalize() for v in views}
    if len({view_modality(v) for v in views}) == 1:
        return {v: language(v) for v in views}
    return {v: v for v in views}


def signed(value: float) -> str:
    """``-2.2249`` → ``"−2.22"`` (a minus sign), ``0.3`` → ``"+0.30"``; NaN → ``"n/a"``."""
    return "n/a" if math.isnan(value) else f"{value:+.2f}".replace("-", "\u2212")


def mean_se(mean: float, se: float) -> str:
    """``(75.713, 0.121)`` → ``"75.71 (0.12)"``; NaN mean → ``"n/a"``."""
    return "n/a" if math.isnan(mean) else f"{mean:.2f} ({se:.2f})"


def sentences_note(n: pd.Series) -> str:
    """``"mean (standard error) in percent over N test sentences"`` (``N1–N2`` when they differ)."""
    lo, hi = int(n.min()), int(n.max())
    count = f"{lo}" if lo == hi else f"{lo}\u2013{hi}"
    return f"mean (standard error) in percent over {count} test sentences"
