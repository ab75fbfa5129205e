"""The layouts ``flip report`` draws with, one registry per kind and one signature per kind.

* tables: ``(spec, inputs, name) -> Table``, written by the stage as md, csv, tex and html;
* figures: ``(spec, inputs, name, out_prefix)``, each writing ``{out_prefix}.{png,pdf}`` itself.

The paper's table shapes (:data:`~flip_pipeline.report.table_shapes.TABLE_LAYOUTS`) take the tidy rows of
the spec's entries; :func:`paper_table` reads those rows (with the settings each swept run chose) and adds
the sweeps' columns, so that every table layout has the same signature. The paper's figures
(:mod:`.figures`) and the thesis's (:mod:`.thesis_figures`, :mod:`.thesis_maps`) import matplotlib, so
:func:`figure_layouts` imports them only when a figure is drawn: a table job needs no plotting library.
"""

from __future__ import annotations

from collections.abc import Callable

from flip_pipeline.extras import require
from flip_pipeline.report.results import collect_results
from flip_pipeline.report.sweeps import add_sweeps, read_sweeps, with_chosen_rank
from flip_pipeline.report.table_model import Table
from flip_pipeline.report.table_shapes import TABLE_LAYOUTS
from flip_pipeline.report.thesis_appendix_tables import APPENDIX_TABLE_LAYOUTS
from flip_pipeline.report.thesis_tables import THESIS_TABLE_LAYOUTS
from flip_pipeline.settings import require_keys

TableLayout = Callable[[dict, list[str], str], Table]
FigureLayout = Callable[[dict, list[str], str, str], None]


def paper_table(shape: Callable) -> TableLayout:
    """A paper table shape ``(results, spec, name) -> Table`` as a table layout: the rows of the spec's
    entries (a swept run's at the rank it chose) shaped, then each swept run's choice and dev scores added."""

    def layout(spec: dict, inputs: list[str], name: str) -> Table:
        require_keys(spec, ("entries",), f"report {name}: --spec")
        results = collect_results(spec["entries"], inputs, name)
        sweeps = read_sweeps(results)  # swept runs: the settings chosen on dev, every point's dev score
        return add_sweeps(shape(with_chosen_rank(results, sweeps), spec, name), results, sweeps, name)

    return layout


def paper_figure(draw: FigureLayout) -> FigureLayout:
    """A paper figure, which reads the spec's entries: a spec without them is a one-line error."""

    def layout(spec: dict, inputs: list[str], name: str, out_prefix: str) -> None:
        require_keys(spec, ("entries",), f"report {name}: --spec")
        draw(spec, inputs, name, out_prefix)

    return layout


def table_layouts() -> dict[str, TableLayout]:
    """Every table layout: the paper's shapes, then the thesis's Tables 5.1, 5.2, the changes and the appendix's."""
    return {**{n: paper_table(shape) for n, shape in TABLE_LAYOUTS.items()}, **THESIS_TABLE_LAYOUTS,
            **APPENDIX_TABLE_LAYOUTS}


def figure_layouts() -> dict[str, FigureLayout]:
    """Every figure layout: the paper's, then the thesis's curves and maps (imports matplotlib)."""
    require("workflow", "Figures (matplotlib)", "matplotlib")  # one line, not a traceback
    from flip_pipeline.report.figures import FIGURE_LAYOUTS
    from flip_pipeline.report.thesis_figures import THESIS_FIGURE_LAYOUTS
    from flip_pipeline.report.thesis_maps import THESIS_MAP_LAYOUTS

    return {**{n: paper_figure(draw) for n, draw in FIGURE_LAYOUTS.items()}, **THESIS_FIGURE_LAYOUTS,
            **THESIS_MAP_LAYOUTS}


def layouts(kind: str) -> dict[str, TableLayout] | dict[str, FigureLayout]:
    """The registry of ``kind`` (``"table"`` or ``"figure"``)."""
    return table_layouts() if kind == "table" else figure_layouts()
