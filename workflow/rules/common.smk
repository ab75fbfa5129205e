# Configuration validation, run expansion and the input functions every rule uses.

import json

from snakemake.exceptions import WorkflowError

from flip_pipeline.config import expand_runs, validate_config
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


def eval_entries(experiment):
    """Every (run, test view) evaluation of an experiment, described for the report stage."""
    entries = []
    for name, run in RUNS[experiment].items():
        for view in run.test_views:
            entries.append({
                "path": f"{R}/eval/{experiment}/{name}/{view}.json", "run": name, "probe": run.probe,
                "rank": run.rank, "alpha": run.alpha, "encoder": run.encoder,
                "train_views": list(run.train_views), "view": view,
            })
    return entries


def report_outputs(name):
    if name in config.get("tables", {}):
        return [f"{R}/tables/{name}.md", f"{R}/tables/{name}.csv"]
    if name in config.get("figures", {}):
        return [f"{R}/figures/{name}.png", f"{R}/figures/{name}.pdf"]
    raise WorkflowError(f"targets: {name!r} is neither a table nor a figure in config.yaml")


def default_targets():
    return [path for name in config.get("targets", []) for path in report_outputs(name)]
