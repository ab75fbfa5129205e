"""What a table says about its swept runs: the settings chosen on dev and every point's dev score.

A swept run's result row carries its ``selection`` (``selected.json``,
:mod:`flip_pipeline.formats.sweep_choice`). Before a layout places the rows,
:func:`with_chosen_rank` puts the chosen rank in place of ``sweep`` (so the row reads
``FLiP r=256``); after, :func:`add_sweeps` extends the table:

* the tidy CSV gains a ``record`` column (``evaluation`` for the layout's rows, ``sweep point``
  for rows appended one per point of every swept run), ``point`` (the trained point: on an
  evaluation row the selected one), one column per swept setting (its value; on an evaluation
  row the chosen one), ``dev_recall`` (percent), ``best_iteration`` and ``selected`` (on point rows);
* the footnote (Markdown and LaTeX) gains a line naming each swept run's chosen settings.

Tables without a swept run are left as they are.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from flip_pipeline.config.runs import spell_setting
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.sweep_choice import read_selection, selected_point
from flip_pipeline.report.results import probe_label
from flip_pipeline.report.table_model import Table


def read_sweeps(results: pd.DataFrame) -> dict[str, dict]:
    """The selection record of every swept run among the result rows, by its path (first seen first)."""
    paths = [p for p in dict.fromkeys(results.get("selection", pd.Series(dtype=object))) if isinstance(p, str)]
    return {path: read_selection(path) for path in paths}


def with_chosen_rank(results: pd.DataFrame, sweeps: dict[str, dict]) -> pd.DataFrame:
    """``results`` with each swept run's chosen rank in ``rank`` (and its ``probe`` label) where
    the sweep chose it."""
    if not sweeps:
        return results
    ranks = [sweeps[s]["settings"].get("rank", rank) if isinstance(s, str) else rank
             for s, rank in zip(results.selection, results["rank"])]
    return results.assign(rank=pd.Series(ranks, index=results.index, dtype=object),
                          probe=[probe_label(method, rank) for method, rank in zip(results.method, ranks)])


def _spelled(settings: dict) -> str:
    return ", ".join(f"{key}={spell_setting(value)}" for key, value in settings.items())


def _note(sweeps: dict[str, dict]) -> str:
    """One line: each swept run's chosen settings, its dev recall and the range over its points."""
    several = len({s["experiment"] for s in sweeps.values()}) > 1
    parts = []
    for path, s in sweeps.items():
        scores = [100 * p[s["criterion"]] for p in s["points"]]
        chosen = 100 * selected_point(s, path)[s["criterion"]]
        run = f"{s['experiment']}/{s['run']}" if several else s["run"]
        parts.append(f"{run}: {_spelled(s['settings'])} (dev recall {chosen:.2f}; {len(scores)} points, "
                     f"{min(scores):.2f}\u2013{max(scores):.2f})")
    return ("Settings chosen on dev recall (the best point of each sweep; ties: the first in grid order): "
            + "; ".join(parts) + ".")


def _frame(rows: list[dict], settings: set[str]) -> pd.DataFrame:
    """``rows`` as a frame whose setting columns keep their values as given (``16`` stays ``16``, not ``16.0``)."""
    frame = pd.DataFrame(rows)
    for column in settings & set(frame.columns):
        frame[column] = pd.Series([row.get(column) for row in rows], index=frame.index, dtype=object)
    return frame


def add_sweeps(table: Table, results: pd.DataFrame, sweeps: dict[str, dict], name: str) -> Table:
    """``table`` with its swept runs' chosen settings and sweep points in the tidy CSV and the footnote."""
    if not sweeps:
        return table
    chosen = {}
    for r in results.itertuples():
        if isinstance(r.selection, str):
            if not r.fingerprint:
                raise FlipInputError(f"report {name}: the spec entry of swept run {r.run!r} has no fingerprint")
            s = sweeps[r.selection]
            point = selected_point(s, r.selection)
            chosen[r.fingerprint] = {"point": point["run"], **point["settings"],
                                     "dev_recall": 100 * point[s["criterion"]], "best_iteration": point["best_iteration"]}
    settings = {key for s in sweeps.values() for p in s["points"] for key in p["settings"]}
    tidy = table.tidy.assign(record="evaluation")
    extra = _frame([{"fingerprint": fp, **values} for fp, values in chosen.items()], settings)
    extra = extra[[c for c in extra.columns if c == "fingerprint" or c not in tidy.columns]]
    tidy = tidy.merge(extra, on="fingerprint", how="left")
    first = {r.selection: r for r in results.itertuples() if isinstance(r.selection, str)}
    points = [{"record": "sweep point", "experiment": s["experiment"], "run": s["run"],
               "encoder": first[path].encoder, "method": first[path].method, "point": p["run"], **p["settings"],
               "dev_recall": 100 * p[s["criterion"]], "best_iteration": p["best_iteration"],
               "selected": p["selected"], "fingerprint": p["fingerprint"]}
              for path, s in sweeps.items() for p in s["points"]]
    tidy = pd.concat([tidy, _frame(points, settings)], ignore_index=True)
    return dataclasses.replace(table, tidy=tidy, footnote=f"{table.footnote} {_note(sweeps)}")
