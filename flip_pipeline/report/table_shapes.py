"""Table layouts: the generic accuracy table and the paper's Tables 1–6.

Every layout is ``layout(results, spec, name) -> Table``, where ``results`` comes from
:func:`~flip_pipeline.report.results.collect_results` (accuracy in percent) and ``spec``
is the report spec (``layout``, ``caption``, ``entries`` and layout options). An entry a
layout cannot place is a :class:`FlipInputError` naming the table and the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from flip_pipeline.errors import FlipInputError
from flip_pipeline.report.jaccard import view_jaccard
from flip_pipeline.report.results import (
    METHOD_NAMES,
    language,
    mean_se,
    require,
    sentences_note,
    signed,
    view_labels,
)
from flip_pipeline.report.table_model import Cell, Table, labels
from flip_pipeline.settings import rank_of

TIDY_RUN = ["run", "encoder", "method", "rank", "alpha", "fingerprint"]  # run columns of every tidy CSV


def _unplaceable(name: str, run, why: str) -> FlipInputError:
    """The error for an entry a layout has no cell for."""
    return FlipInputError(f"report {name}: cannot place run {run.run!r} ({run.path}): {why}")


def _common(values: list[str], fallback: str = "XX") -> str:
    """The one value of ``values``, or ``fallback`` when they differ (``EN, DE`` → ``XX``)."""
    return values[0] if len(set(values)) == 1 else fallback


def _run_fields(r) -> dict:
    """The :data:`TIDY_RUN` fields of a result row."""
    return {key: getattr(r, key) for key in TIDY_RUN}


def _accuracy_fields(r) -> dict:
    """Test view and accuracy (percent) of a result row, for a tidy CSV."""
    return {"test_view": r.test_view, "accuracy": r.accuracy, "accuracy_se": r.accuracy_se, "n": r.n}


# The generic table ---------------------------------------------------------------------


def _encoder_names(results: pd.DataFrame) -> dict[str, str]:
    """``{encoder: how tables and figures name it}``: its ``label`` (:func:`~flip_pipeline.models.encoder_label`,
    carried by each entry), else its config key."""
    return {r.encoder: r.encoder_label if isinstance(r.encoder_label, str) and r.encoder_label else r.encoder
            for r in results.itertuples()}


def accuracy_table(results: pd.DataFrame, spec: dict, name: str) -> Table:
    """Encoders (by label) × (test view, probe), cells ``mean ± se`` (the quickstart table)."""
    columns = list(dict.fromkeys(zip(results.test_view, results.probe)))
    cells: dict[tuple, str] = {}
    for r in results.itertuples():
        cells.setdefault((r.encoder, r.test_view, r.probe), f"{r.accuracy:.2f} ± {r.accuracy_se:.2f}")
    names = _encoder_names(results)
    rows = [labels(names[enc], *(cells.get((enc, *col), "") for col in columns)) for enc in names]
    tidy = results.assign(train_views=["+".join(v) for v in results.train_views],
                          encoder_label=[names[enc] for enc in results.encoder])[
        ["encoder", "encoder_label", "probe", "alpha", "train_views", "test_view", "accuracy", "accuracy_se", "n",
         "skipped", "run", "fingerprint"]]
    footnote = (f"Test accuracy in percent (mean ± standard error over at least {results.n.min()} sentences; "
                "k = number of distinct in-vocabulary words of each sentence).")
    return Table(["encoder", *(f"{view} {probe}" for view, probe in columns)], rows, 1, tidy, footnote)


# Rows of runs × columns of test views (Tables 1 and 6) --------------------------------


def _view_grid(results: pd.DataFrame, name: str, label_columns: list[str],
               row_key: Callable[[object], tuple | None], row_labels: Callable[[tuple], list[str]]) -> Table:
    """One row per ``row_key`` (sorted), one column per test view, cells ``mean (se)``.

    Args:
        label_columns: titles of the row-label columns.
        row_key: result row → sortable key, or ``None`` when the layout has no row for it.
        row_labels: key → the row-label cells (``len(label_columns)`` strings).
    """
    views = list(dict.fromkeys(results.test_view))
    grid: dict[tuple, dict[str, object]] = {}
    for r in results.itertuples():
        key = row_key(r)
        if key is None:
            raise _unplaceable(name, r, f"no row for method {r.method!r} with rank {r.rank!r}")
        if r.test_view in grid.setdefault(key, {}):
            raise _unplaceable(name, r, f"another run already fills row {row_labels(key)} on {r.test_view}")
        grid[key][r.test_view] = r
    rows, tidy = [], []
    for key in sorted(grid):
        missing = [v for v in views if v not in grid[key]]
        if missing:
            raise _unplaceable(name, next(iter(grid[key].values())), f"no evaluation on {missing[0]}")
        runs = [grid[key][v] for v in views]
        rows.append(labels(*row_labels(key)) + [Cell(mean_se(r.accuracy, r.accuracy_se)) for r in runs])
        tidy += [{**dict(zip(label_columns, row_labels(key))), **_run_fields(r), **_accuracy_fields(r)} for r in runs]
    header = [*label_columns, *view_labels(views).values()]
    return Table(header, rows, len(label_columns), pd.DataFrame(tidy), f"Cells: {sentences_note(results.n)}.")


def _rank_key(r) -> tuple | None:
    """LiP first, then FLiP at full rank, then FLiP ranks descending."""
    if r.method == "lip":
        return (0, 0)
    if r.method == "flip":
        rank = rank_of(r.rank)
        return (1, 0) if rank is None else (2, -rank)
    return None


def rank_table(results: pd.DataFrame, spec: dict, name: str) -> Table:
    """Table 1: rows (Factorized ✗/✓, Dimension Full or rank) × test views."""
    return _view_grid(results, name, ["Factorized", "Dimension"], _rank_key,
                      lambda key: ["✗" if key[0] == 0 else "✓", "Full" if key[0] < 2 else str(-key[1])])


SPLICE_ORDER = ["splice", "lip", "flip"]


def splice_table(results: pd.DataFrame, spec: dict, name: str) -> Table:
    """Table 6: rows = method (SpLiCE, then LiP, FLiP) × test views (span-aware accuracy)."""
    return _view_grid(results, name, ["Method"],
                      lambda r: (SPLICE_ORDER.index(r.method),) if r.method in SPLICE_ORDER else None,
                      lambda key: [METHOD_NAMES[SPLICE_ORDER[key[0]]]])


# Cross-modal / cross-lingual transfer (Tables 2 and 3) ---------------------------------


def _cross_cells(block: pd.DataFrame, name: str) -> tuple[list[str], dict[tuple[str, str], object]]:
    """The two views of one experiment and its cells ``(train view, test view) → result row``."""
    cells: dict[tuple[str, str], object] = {}
    for r in block.itertuples():
        if len(r.train_views) != 1:
            raise _unplaceable(name, r, f"trained on {len(r.train_views)} views; the cross layout needs "
                                        "single-view runs")
        if (r.train_views[0], r.test_view) in cells:
            raise _unplaceable(name, r, f"another run is also trained on {r.train_views[0]} and tested on "
                                        f"{r.test_view}")
        cells[(r.train_views[0], r.test_view)] = r
    views = list(dict.fromkeys(train for train, _ in cells))
    for (train, test), r in cells.items():
        if test not in views:
            raise _unplaceable(name, r, f"tested on {test} but experiment {r.experiment!r} has no run trained on "
                                        f"{test} alone (no diagonal cell for that column)")
    if len(views) != 2:
        r = next(iter(cells.values()))
        raise _unplaceable(name, r, f"experiment {r.experiment!r} has runs trained on {views}; "
                                    "the cross layout needs two single-view runs per experiment")
    for train in views:
        for test in views:
            if (train, test) not in cells:
                raise _unplaceable(name, cells[(train, train)], f"no evaluation on {test}")
    return views, cells


def _cross_rows(label: str, views: list[str], cells: dict) -> tuple[list[list[Cell]], list[dict]]:
    """The two rows of one group (diagonal accuracy, shaded differences, Jaccard) and its tidy records."""
    names = view_labels(views)
    rows, tidy = [], []
    for i, train in enumerate(views):
        jac = view_jaccard(cells[(train, views[0])].details, cells[(train, views[1])].details)
        row = labels(label if i == 0 else "", names[train])
        for test in views:
            r, diagonal = cells[(train, test)], cells[(test, test)]
            diff = math.nan if train == test else r.accuracy - diagonal.accuracy
            row.append(Cell(mean_se(r.accuracy, r.accuracy_se)) if train == test else Cell(signed(diff), shaded=True))
            tidy.append({"group": label, "experiment": r.experiment, **_run_fields(r), "train_view": train,
                         **_accuracy_fields(r), "difference": diff, "jaccard": jac["mean"],
                         "jaccard_se": jac["se"], "jaccard_n": jac["n"]})
        rows.append(row + [Cell(mean_se(jac["mean"], jac["se"]))])
    return rows, tidy


def cross_table(results: pd.DataFrame, spec: dict, name: str) -> Table:
    """Tables 2 and 3: per experiment, its two single-view runs × their two test views + Jaccard.

    Options: ``groups`` ``{experiment: label}`` (default: the experiment's corpus).
    """
    require(results, ["experiment", "corpus", "details"], name)
    groups = spec.get("groups", {})
    rows, tidy, starts, positions = [], [], [], []
    for experiment, block in results.groupby("experiment", sort=False):
        views, cells = _cross_cells(block, name)
        starts.append(len(rows))
        positions.append([view_labels(views)[v] for v in views])
        group_rows, group_tidy = _cross_rows(groups.get(experiment, block.corpus.iloc[0]), views, cells)
        rows += group_rows
        tidy += group_tidy
    first, second = (_common([p[i] for p in positions]) for i in range(2))
    footnote = (f"Diagonal cells: {sentences_note(results.n)}. Differences (grey in LaTeX, italic in Markdown): "
                "accuracy minus the diagonal cell of the same column (the model trained on that column's view). "
                "Jaccard: mean (standard error) in percent of the per-sentence Jaccard index of the row model's "
                "hit sets on the two test views, over sentences where either set is non-empty.")
    return Table(["Group", "Training", first, second, f"({first}, {second})"], rows, 2, pd.DataFrame(tidy),
                 footnote, spans=[("", 2), ("Accuracy", 2), ("Jaccard", 1)], group_starts=starts)


# Language of the vocabulary × language of the embeddings (Tables 4 and 5) --------------


def _vocab_grid(results: pd.DataFrame, name: str, row_of: Callable[[object], str]) -> list[tuple[str, str, str, dict]]:
    """Runs trained on both views, placed by (vocabulary language, embedding language).

    Returns:
        per row label (in order of appearance): ``(label, base, other, cells)`` with
        ``base`` EN when the row's pair has it, and ``cells`` ``(vocab lang, emb lang) → result row``.
    """
    require(results, ["vocab_view"], name)
    grid: dict[str, dict[tuple[str, str], object]] = {}
    for r in results.itertuples():
        if len(r.train_views) != 2:
            raise _unplaceable(name, r, "trained on one view; this layout needs runs trained on both views")
        key = (language(r.vocab_view), language(r.test_view))
        row = grid.setdefault(row_of(r), {})
        if key in row:
            raise _unplaceable(name, r, f"another run of row {row_of(r)!r} has vocabulary {key[0]} on "
                                        f"{key[1]} embeddings")
        row[key] = r
    out = []
    for label, cells in grid.items():
        langs = sorted({lang for key in cells for lang in key}, key=lambda lang: (lang != "EN", lang))
        if len(langs) != 2:
            raise _unplaceable(name, next(iter(cells.values())), f"row {label!r} spans languages {langs}, not a pair")
        base, other = langs
        for key in _vocab_order(base, other):
            if key not in cells:
                raise _unplaceable(name, next(iter(cells.values())),
                                   f"row {label!r} has no run with vocabulary {key[0]} tested on {key[1]} embeddings")
        out.append((label, base, other, cells))
    return out


def _vocab_order(base: str, other: str) -> list[tuple[str, str]]:
    """Column order ``(vocab, emb)``: vocabulary in ``base`` on base, other; then in ``other`` on other, base."""
    return [(base, base), (base, other), (other, other), (other, base)]


def _vocab_table(grid: list[tuple[str, str, str, dict]], row_title: str, with_delta: bool, note: str) -> Table:
    """Render :func:`_vocab_grid`; with ``with_delta`` cross cells show ``mean (Δ)`` instead of ``mean (se)``."""
    base, other = _common([g[1] for g in grid]), _common([g[2] for g in grid])
    rows, tidy = [], []
    for label, b, o, cells in grid:
        row = labels(label)
        for vocab, emb in _vocab_order(b, o):
            r = cells[(vocab, emb)]
            delta = r.accuracy - cells[(vocab, vocab)].accuracy if vocab != emb else math.nan
            shown = (f"{r.accuracy:.2f} ({signed(delta)})" if with_delta and vocab != emb
                     else mean_se(r.accuracy, r.accuracy_se))
            row.append(Cell(shown))
            tidy.append({row_title: label, "experiment": r.experiment, **_run_fields(r), "vocab_language": vocab,
                         "embedding_language": emb, **_accuracy_fields(r), "delta": delta})
        rows.append(row)
    leaves = ([f"{base}-emb", f"{other}-emb (Δ)", f"{other}-emb", f"{base}-emb (Δ)"] if with_delta
              else [base, other, other, base])
    spans = [("", 1), (f"Vocabulary ({base})", 2), (f"Vocabulary ({other})", 2)]
    return Table([row_title, *leaves], rows, 1, pd.DataFrame(tidy), note, spans=spans)


def _pair_label(results: pd.DataFrame) -> dict[str, str]:
    """Experiment → its language pair, EN first: ``"EN-DE"``."""
    out = {}
    for experiment, block in results.groupby("experiment", sort=False):
        views = {v for r in block.itertuples() for v in (r.vocab_view, r.test_view, *r.train_views)}
        out[experiment] = "-".join(sorted({language(v) for v in views}, key=lambda lang: (lang != "EN", lang)))
    return out


def vocab_language_table(results: pd.DataFrame, spec: dict, name: str) -> Table:
    """Table 4: one row per language pair; vocabulary in EN and in XX, each on EN and XX embeddings, with Δ.

    Options: ``groups`` ``{experiment: row label}`` (default: the pair, e.g. ``EN-DE``).
    """
    require(results, ["experiment", "vocab_view"], name)
    label = {**_pair_label(results), **spec.get("groups", {})}
    grid = _vocab_grid(results, name, lambda r: label[r.experiment])
    note = (f"Cells: {sentences_note(results.n)}; the second column of each vocabulary block shows in parentheses "
            "Δ, its accuracy minus the first column's (the embeddings in the vocabulary's language).")
    return _vocab_table(grid, "Pair", True, note)


def encoders_table(results: pd.DataFrame, spec: dict, name: str) -> Table:
    """Table 5: one row per encoder, one language pair; vocabulary in EN and in XX on both embeddings.

    Options: ``labels`` ``{encoder: row label}`` (default: the encoder's ``label``, else its name).
    """
    require(results, ["vocab_view"], name)
    names = {**_encoder_names(results), **spec.get("labels", {})}
    grid = _vocab_grid(results, name, lambda r: names[r.encoder])
    pairs = {(b, o) for _, b, o, _ in grid}
    if len(pairs) != 1:
        raise FlipInputError(f"report {name}: the encoders layout compares one language pair, got {sorted(pairs)}")
    return _vocab_table(grid, "Encoder", False, f"Cells: {sentences_note(results.n)}.")


TABLE_LAYOUTS: dict[str, Callable[[pd.DataFrame, dict, str], Table]] = {
    "accuracy": accuracy_table,
    "rank": rank_table,
    "cross": cross_table,
    "vocab_language": vocab_language_table,
    "encoders": encoders_table,
    "splice": splice_table,
}
