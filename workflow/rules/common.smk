# Configuration validation, run expansion and the input functions every rule uses.

import json
import os
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError

from flip_pipeline.config import expand_runs, validate_config
from flip_pipeline.corpora.flip_data import split_files, view_kind
from flip_pipeline.errors import FlipInputError

try:
    validate_config(config, "config.yaml (with any --config overrides)")
except FlipInputError as err:
    raise WorkflowError(str(err)) from None

R = config.get("results", "results")
SPLITS = ["train", "dev", "test"]
RUNS = {exp: {run.name: run for run in expand_runs(config, exp)} for exp in config["experiments"]}


wildcard_constraints:
    corpus=r"[^/]+",
    encoder=r"[^/]+",
    vocab=r"[^/]+",
    experiment=r"[^/]+",
    run=r"[^/]+",
    split=r"train|dev|test",
    view=r"(text|speech)_[a-z]{2,3}",


def published_encoders():
    """Regex of the encoder names of family `published` (matches none when there are none)."""
    names = [name for name, spec in config["encoders"].items() if spec["family"] == "published"]
    return "|".join(re.escape(name) for name in names) or "(?!)"


def computed_encoders():
    """Regex of every encoder name but those of family `published` (for the embed rule)."""
    return rf"(?!(?:{published_encoders()})/)[^/]+"


def published_file(corpus, split, kind):
    """A file of the published FLiP data behind a flip_data corpus; kind: a view, or `sim`."""
    spec = config["corpora"][corpus]
    if spec["source"] != "flip_data":
        raise WorkflowError(f"corpus {corpus!r} has source {spec['source']!r}: published embeddings "
                            "come only from a flip_data corpus")
    try:
        key = kind if kind == "sim" else view_kind(kind, spec.get("language", "en"))
    except FlipInputError as err:
        raise WorkflowError(f"corpus {corpus!r}: {err}") from None
    return str(split_files(Path(os.path.expanduser(spec["root"])), split)[key])


def published_scores(corpus, split, view_a, view_b):
    """The published scores of a flip_data corpus split; both views must be the corpus's."""
    for view in (view_a, view_b):
        published_file(corpus, split, view)  # raises for a view the published data lacks
    return published_file(corpus, split, "sim")


def as_json(obj):
    """Compact JSON for a `--spec` argument (quoted in shell with `:q`)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def corpus_table(corpus, split):
    return f"{R}/corpora/{corpus}/{split}.parquet"


def embedding_dir(encoder, corpus, split, view):
    return f"{R}/embeddings/{encoder}/{corpus}/{split}/{view}"


def bow_file(vocab, corpus, split, view):
    return f"{R}/bow/{vocab}/{corpus}/{split}/{view}.npz"


def run_of(wildcards):
    try:
        return RUNS[wildcards.experiment][wildcards.run]
    except KeyError:
        raise WorkflowError(f"no run {wildcards.run!r} in experiment {wildcards.experiment!r}") from None


def train_embedding_dirs(wildcards, split):
    run = run_of(wildcards)
    return [embedding_dir(run.encoder, run.corpus, split, v) for v in run.train_views]


def similarity_file(run):
    """The per-id cosine of a run's two training views when `training.sim_threshold` filters on it."""
    if run.training.get("sim_threshold") is None or len(run.train_views) != 2:
        return []
    a, b = run.train_views
    return f"{R}/embeddings/{run.encoder}/{run.corpus}/train/sim_{a}__{b}.parquet"


def model_file(run):
    """The file that marks a run's model complete (SpLiCE writes a dictionary, not a probe)."""
    name = "splice.safetensors" if run.probe == "splice" else "model.safetensors"
    return f"{R}/models/{run.experiment}/{run.name}/{name}"


def selected(run, view, select):
    """Whether a table's or figure's `select` keeps this (run, test view)."""
    rank = run.rank if run.probe == "flip" else None
    return (
        run.encoder in select.get("encoders", [run.encoder])
        and run.probe in select.get("probes", [run.probe])
        and (rank is None or rank in select.get("ranks", [rank]))
        and list(run.train_views) in select.get("train_views", [list(run.train_views)])
        and view in select.get("test_views", [view])
    )


def eval_entries(experiments, select=None):
    """Every selected (run, test view) evaluation of the experiments, described for the report stage."""
    entries = []
    for experiment in experiments:
        for name, run in RUNS[experiment].items():
            for view in run.test_views:
                if not selected(run, view, select or {}):
                    continue
                path = f"{R}/eval/{experiment}/{name}/{view}"
                entries.append({
                    "path": f"{path}.json", "details": f"{path}.details.parquet", "experiment": experiment,
                    "run": name, "method": run.probe, "rank": run.rank, "alpha": run.alpha,
                    "encoder": run.encoder, "corpus": run.corpus, "vocab": run.vocab, "vocab_view": run.target_view,
                    "train_views": list(run.train_views), "view": view,
                })
    return entries


def entity_recall_entries(spec):
    """One entity-recall file per selected (run, test view) of a figure."""
    entries = []
    for e in eval_entries(spec["experiments"], spec.get("select")):
        path = f"{R}/entity_recall/{e['experiment']}/{e['run']}/{e['view']}.{spec['entities']}.json"
        entries.append({**e, "path": path})
    return entries


def output_spec(name):
    """`tables.<name>` or `figures.<name>` of the config."""
    return {**config.get("figures", {}), **config.get("tables", {})}[name]


def report_entries(name):
    """The report spec's entries of a table or figure (what its `flip report` reads)."""
    spec = output_spec(name)
    if spec["layout"] == "entity_recall":
        return entity_recall_entries(spec)
    return eval_entries(spec["experiments"], spec.get("select"))


def report_spec(name):
    spec = output_spec(name)
    entries = report_entries(name)
    if not entries:
        raise WorkflowError(f"{name}: its experiments and `select` leave no run to report")
    return as_json({
        "layout": spec["layout"], "caption": spec.get("caption", ""), "groups": spec.get("groups", {}),
        "labels": spec.get("labels", {}),
        "entries": entries,
    })


def report_inputs(name):
    """Evaluation summaries (their details files come from the same jobs) or entity-recall files."""
    return [e["path"] for e in report_entries(name)]


def entity_ks(entities):
    return config["entities"][entities].get("ks", [1, 2, 3, 5, 10, 20, 50])


def report_outputs(name):
    if name in config.get("tables", {}):
        return [f"{R}/tables/{name}.{ext}" for ext in ("md", "csv", "tex")]
    if name in config.get("figures", {}):
        return [f"{R}/figures/{name}.png", f"{R}/figures/{name}.pdf"]
    raise WorkflowError(f"{name!r} is neither a table nor a figure in config.yaml")


def default_targets():
    return [path for name in config.get("targets", []) for path in report_outputs(name)]
