"""Every table and figure the workflow builds, paper and thesis alike, as one :class:`Target`.

A target has two sources: the config's ``tables.<name>`` and ``figures.<name>`` (the paper's,
their runs chosen by :class:`~flip_pipeline.plan.runs.ReportPlan`) and the thesis's named outputs
(:meth:`flip_pipeline.plan.thesis.ThesisPlan.outputs`). :class:`TargetPlan` holds both, refuses a
name that two of them give, and answers for any name with one :class:`Target`: what ``flip report``
reads and gets as ``--spec``, which files the job depends on and which it writes. The report rules
(workflow/rules/report.smk) and the named-target rules read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats import paths
from flip_pipeline.plan.base import ConfigPlan
from flip_pipeline.plan.runs import ReportPlan
from flip_pipeline.plan.thesis import ThesisPlan

KINDS = {"tables": "table", "figures": "figure"}


@dataclass(frozen=True)
class Target:
    """One table or figure.

    Attributes:
        name: its name, e.g. ``table1_rank`` or ``thesis_fig5_1`` (``snakemake <name>`` builds it).
        kind: ``"table"`` (md, csv, tex, html) or ``"figure"`` (png, pdf).
        layout: the layout ``flip report`` draws it with (:mod:`flip_pipeline.report.layouts`).
        family: ``"paper"`` (a config entry) or ``"thesis"`` (a named output of the thesis section).
        inputs: the files the report stage reads (``--inputs``), in the order the spec's entries give them.
        models: further files the job depends on but does not read as inputs: the paper's model files,
            whose provenance the stage checks (none for the thesis).
        spec: exactly what ``flip report --spec`` gets (its layout, caption and options; the paper's entries).
        files: the files it writes.
    """

    name: str
    kind: str
    layout: str
    family: str
    inputs: tuple[str, ...]
    models: tuple[str, ...]
    spec: dict[str, Any]
    files: tuple[str, ...]

    @property
    def caption(self) -> str:
        return self.spec.get("caption", "")


class TargetPlan(ConfigPlan):
    """Every table and figure of the config, and the groups of them (:class:`ConfigPlan` says the arguments).

    Raises:
        FlipInputError: a name given twice (a config table and figure, or a config entry and a thesis
            output), or a target named as a group.
    """

    def __init__(self, config: dict[str, Any], results: str):
        super().__init__(config, results)
        self.paper = ReportPlan(config, results)
        self.thesis = ThesisPlan(config, results)
        #: ``{name: (kind, family, where it is defined)}`` of every target, config entries first.
        self.sources: dict[str, tuple[str, str, str]] = {}
        for section, kind in KINDS.items():
            for name in config.get(section, {}):
                self._add(name, kind, "paper", f"{section}.{name} of the config")
        for name, output in self.thesis.outputs().items():
            self._add(name, output["kind"], "thesis", self._thesis_source(name))
        for group in self.groups():
            if group in self.sources:
                raise FlipInputError(f"{self.sources[group][2]}: {group!r} is the name of a group target; rename it")
        self._built: dict[str, Target] = {}

    def _add(self, name: str, kind: str, family: str, where: str) -> None:
        if name in self.sources:
            raise FlipInputError(f"{where} and {self.sources[name][2]} are both named {name!r}; rename one")
        self.sources[name] = (kind, family, where)

    def _thesis_source(self, name: str) -> str:
        """Where a thesis output's name comes from: a model's ``resource_figure``, or the thesis section."""
        for model in self.thesis.models:
            if self.thesis.resource_figure(model) == name:
                return f"thesis.models.{model}.resource_figure"
        return "a thesis output (config key thesis)"

    def names(self) -> list[str]:
        """Every target's name: the config's tables, its figures, then the thesis's outputs."""
        return list(self.sources)

    def kind(self, name: str) -> str:
        """``"table"`` or ``"figure"``; an error listing every known name for an unknown one."""
        if name not in self.sources:
            raise FlipInputError(f"{name!r} is no table or figure of this config (known: {', '.join(self.sources) or 'none'})")
        return self.sources[name][0]

    def files(self, name: str) -> list[str]:
        """The files target ``name`` writes (without building its spec)."""
        return paths.report_files(self.results, self.kind(name), name)

    def target(self, name: str, kind: str | None = None) -> Target:
        """Target ``name``, built once; with ``kind``, an error unless it is a ``kind``."""
        found = self.kind(name)
        if kind is not None and kind != found:
            raise FlipInputError(f"{name!r} is a {found} ({self.sources[name][2]}), not a {kind}: "
                                 f"its files are {', '.join(self.files(name))}")
        if name not in self._built:
            self._built[name] = self._paper(name) if self.sources[name][1] == "paper" else self._thesis(name)
        return self._built[name]

    def _paper(self, name: str) -> Target:
        spec = self.paper.spec(name)
        entries = spec["entries"]
        return Target(name, self.kind(name), spec["layout"], "paper", tuple(e["path"] for e in entries),
                      tuple(dict.fromkeys(e["model"] for e in entries)), spec, tuple(self.files(name)))

    def _thesis(self, name: str) -> Target:
        spec = self.thesis.report_spec(name)
        return Target(name, self.kind(name), spec["layout"], "thesis", tuple(self.thesis.output(name)["inputs"]), (),
                      spec, tuple(self.files(name)))

    def check_orphans(self, name: str) -> None:
        """Raise if a paper target's evaluation outlived its model (:meth:`ReportPlan.check_orphans`);
        the thesis's inputs have no models."""
        if self.sources[name][1] == "paper":
            self.paper.check_orphans(name)

    def groups(self) -> dict[str, list[str]]:
        """The group targets and their members: ``paper`` (the config's list) and the thesis's groups."""
        return {"paper": list(self.config.get("paper", [])), **self.thesis.groups()}

    def named_files(self) -> dict[str, list[str]]:
        """``{name: files}`` of every target and every group: one named rule each."""
        named = {name: self.files(name) for name in self.sources}
        for group, members in self.groups().items():
            named[group] = [f for member in members for f in self.files(member)]
        return named

    def default_files(self) -> list[str]:
        """The files of the config's ``targets`` (what a plain ``snakemake`` builds)."""
        return [f for name in self.config.get("targets", []) for f in self.files(name)]
