"""Which runs each table and figure of a config shows, and where its files are.

A table or figure (``tables.<name>`` / ``figures.<name>`` of the config) names its
experiments and an optional ``select`` (encoders, probes, ranks, train_views,
test_views); every (run, test view) of those experiments that ``select`` keeps is one
*entry*: the evaluation summary (or entity-recall file) the report stage reads, described
by its run. A :class:`ReportPlan` gives a table's spec (the one handed to ``flip report``), from
which :class:`~flip_pipeline.plan.targets.TargetPlan` makes its Target (inputs, models, files); nothing of
this lives in the workflow files. A swept run
is reported by its selection (its points are trained, never evaluated): its entry's
``model`` and ``selection`` are its ``selected.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flip_pipeline.config.runs import Run, expand_runs
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats import paths
from flip_pipeline.models import encoder_label
from flip_pipeline.plan.base import ConfigPlan
from flip_pipeline.settings import fingerprint_of


def _made_by(entry: dict[str, Any]) -> bool:
    """Whether the entry's input exists and records the fingerprint the config gives it now."""
    try:
        return json.loads(Path(entry["path"]).read_text(encoding="utf-8")).get("fingerprint") == entry["fingerprint"]
    except (OSError, json.JSONDecodeError):
        return False  # missing or unreadable: its rule makes it (or reports it) anyway


def selected(run: Run, view: str, select: dict[str, Any]) -> bool:
    """Whether a table's or figure's ``select`` keeps this (run, test view); a key it lacks keeps all."""
    return (
        run.encoder in select.get("encoders", [run.encoder])
        and run.probe in select.get("probes", [run.probe])
        and (run.rank is None or run.rank in select.get("ranks", [run.rank]))  # LiP, SpLiCE: no rank
        and list(run.train_views) in select.get("train_views", [list(run.train_views)])
        and view in select.get("test_views", [view])
    )


class ReportPlan(ConfigPlan):
    """The runs of every experiment of the config and the paper's tables and figures built from them
    (:class:`~flip_pipeline.plan.base.ConfigPlan` says the arguments)."""

    def __init__(self, config: dict[str, Any], results: str):
        super().__init__(config, results)
        self.runs = {exp: {r.name: r for run in expand_runs(config, exp) for r in (run, *run.points)}
                     for exp in config["experiments"]}

    def run(self, experiment: str, name: str) -> Run:
        """The run ``name`` of ``experiment``; an error naming both if there is none."""
        try:
            return self.runs[experiment][name]
        except KeyError:
            raise FlipInputError(f"no run {name!r} in experiment {experiment!r}") from None

    def output_spec(self, name: str) -> dict[str, Any]:
        """``tables.<name>`` or ``figures.<name>`` of the config."""
        outputs = {**self.config.get("figures", {}), **self.config.get("tables", {})}
        if name not in outputs:
            raise FlipInputError(f"{name!r} is neither a table nor a figure in the config")
        return outputs[name]

    def eval_entries(self, experiments: list[str], select: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every selected (run, test view) evaluation of the experiments, described for the report stage."""
        entries = []
        for experiment in experiments:
            for name, run in self.runs[experiment].items():
                for view in run.test_views if not run.sweep else ():  # sweep points: never evaluated
                    if not selected(run, view, select or {}):
                        continue
                    model = paths.model_file(self.results, experiment, name, run.model_kind)
                    entries.append({
                        "path": paths.eval_summary(self.results, experiment, name, view),
                        "details": paths.eval_details(self.results, experiment, name, view),
                        "model": model, **({"selection": model} if run.points else {}),
                        "fingerprint": run.eval_fingerprint(view), "run_fingerprint": run.fingerprint,
                        "experiment": experiment, "run": name, "method": run.probe, "rank": run.rank,
                        "alpha": run.alpha, "encoder": run.encoder,
                        "encoder_label": encoder_label(run.encoder, self.config["encoders"][run.encoder]),
                        "corpus": run.corpus, "vocab": run.vocab,
                        "vocab_view": run.target_view, "train_views": list(run.train_views), "view": view,
                    })
        return entries

    def entries(self, name: str) -> list[dict[str, Any]]:
        """The entries of a table or figure: evaluations, or for ``entity_recall`` figures the
        entity-recall file of each selected evaluation."""
        spec = self.output_spec(name)
        entries = self.eval_entries(spec["experiments"], spec.get("select"))
        if spec["layout"] == "entity_recall":
            entities = spec["entities"]
            return [{**e, "path": paths.entity_recall_file(self.results, e["experiment"], e["run"], e["view"], entities),
                     "fingerprint": self.entity_recall_fingerprint(self.run(e["experiment"], e["run"]), e["view"],
                                                                   entities)} for e in entries]
        return entries

    def entity_recall_fingerprint(self, run: Run, view: str, entities: str) -> str:
        """Hash of everything an entity-recall result depends on: the model, the test view and
        the ``entities.<name>`` entry (tagger, labels, ks)."""
        return fingerprint_of({"run": run.fingerprint, "entities": self.config["entities"][entities], "view": view})

    def spec(self, name: str) -> dict[str, Any]:
        """What ``flip report`` gets for ``name``: layout, caption, groups, labels and the entries."""
        spec = self.output_spec(name)
        entries = self.entries(name)
        if not entries:
            raise FlipInputError(f"{name}: its experiments and `select` leave no run to report")
        return {"layout": spec["layout"], "caption": spec.get("caption", ""), "groups": spec.get("groups", {}),
                "labels": spec.get("labels", {}), "entries": entries}

    def check_orphans(self, name: str) -> None:
        """Raise naming the run if one of ``name``'s inputs was made by the current configuration
        but its model is gone (a killed or failed retraining with an unchanged config).

        Snakemake rebuilds an input whose configuration changed (its fingerprint is a param), but
        it does not rerun anything for a missing model whose downstream files are all present, so
        the report would outlive its model. The message gives the command that rebuilds them.
        """
        orphans = [e for e in self.entries(name) if not Path(e["model"]).exists() and _made_by(e)]
        if orphans:
            runs = ", ".join(sorted({f"{e['run']!r} of experiment {e['experiment']!r}" for e in orphans}))
            stale = " ".join([*(str(Path(e["path"]).with_suffix("")) + ".*" for e in orphans), *self.outputs(name)])
            raise FlipInputError(
                f"{name}: run {runs} lost its model (a killed or failed training; first: {orphans[0]['model']}) "
                f"while its evaluations still stand behind {name}; remove them and rerun to rebuild: rm {stale}")

    def outputs(self, name: str) -> list[str]:
        """The files of table or figure ``name``."""
        if name in self.config.get("tables", {}):
            return paths.report_files(self.results, "table", name)
        if name in self.config.get("figures", {}):
            return paths.report_files(self.results, "figure", name)
        raise FlipInputError(f"{name!r} is neither a table nor a figure in the config")
