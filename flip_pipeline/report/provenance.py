"""Provenance of a report: every input made by the current configuration, every model present.

The rules hand ``flip report`` one entry per input with the fingerprint the current config
gives it (:meth:`flip_pipeline.config.runs.Run.eval_fingerprint`, or the entity-recall one), the
run's model file and the run's fingerprint. :func:`check_provenance` refuses an input made
by another configuration (a run killed or failed after a config change can leave one) and
a run whose model is missing or was trained by another configuration, naming the run (a
swept run's model is its selection, held against the swept run's fingerprint, and the
selected point's checkpoint against the fingerprint the selection recorded for it). A
table then carries the fingerprint of all its inputs.
"""

from __future__ import annotations

from pathlib import Path

from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_json_object
from flip_pipeline.formats.paths import SELECTION
from flip_pipeline.formats.sweep_choice import read_selection, selected_model_dir, selected_point
from flip_pipeline.settings import fingerprint_of


def _config_fingerprint(config: Path) -> str | None:
    """The ``fingerprint`` in a model's ``config.json`` (``None`` if it has none)."""
    return read_json_object(config, "model configuration").get("fingerprint")


def _model_fingerprint(model: Path, where: str) -> str | None:
    """The fingerprint of the model whose marker file is ``model``: its ``config.json``'s, or for a
    swept run's selection the selection's, once the selected checkpoint is the point it recorded."""
    if model.name != SELECTION:
        return _config_fingerprint(model.parent / "config.json")
    record = read_selection(model)
    point, folder = selected_point(record, model), selected_model_dir(model.parent)
    trained = _config_fingerprint(folder / "config.json")
    if trained != point["fingerprint"]:
        raise FlipInputError(f"{where}: its selected sweep point {folder} was trained by another configuration "
                             f"(fingerprint {trained} instead of {point['fingerprint']}); rerun snakemake")
    return record["fingerprint"]


def check_provenance(entries: list[dict], name: str) -> str | None:
    """Raise naming the run unless every entry's input and model belong to the current config.

    Entries without a ``fingerprint`` (a spec written by hand) are not checked.

    Returns:
        the report's fingerprint (of all entry fingerprints), or ``None`` when none has one.
    """
    checked = [e for e in entries if e.get("fingerprint")]
    for e in checked:
        where = f"report {name}: run {e['run']!r} of experiment {e['experiment']!r}"
        recorded = read_json_object(e["path"]).get("fingerprint")
        if recorded != e["fingerprint"]:
            raise FlipInputError(f"{where}: {e['path']} was made by another configuration (fingerprint "
                                 f"{recorded} instead of {e['fingerprint']}); rerun snakemake to rebuild it")
        model = Path(e["model"])
        if not model.exists():
            raise FlipInputError(f"{where}: its model {model} is missing (a killed or failed training?); "
                                 f"rebuild it with: snakemake --forcerun {model}")
        trained = _model_fingerprint(model, where)
        if trained != e["run_fingerprint"]:
            raise FlipInputError(f"{where}: its model {model} was trained by another configuration "
                                 f"(fingerprint {trained} instead of {e['run_fingerprint']}); rerun snakemake")
    return fingerprint_of(sorted(e["fingerprint"] for e in checked)) if checked else None
