# Configuration validation and the input functions every rule uses. Paths come from
# flip_pipeline.formats.paths, run selection and every table's and figure's Target from flip_pipeline.plan.

import json
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from flip_pipeline.config.validation import validate_config
from flip_pipeline.corpora.flip_data import split_files, view_kind
from flip_pipeline.models import uses_gpu
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import check_output_folder
from flip_pipeline.formats import paths
from flip_pipeline.formats.corpus_table import view_modality, view_regex
from flip_pipeline.plan.targets import TargetPlan
from flip_pipeline.report.spec_files import spec_file
from flip_pipeline.formats.similarity_scores import ANALYSES as THESIS_ANALYSES
from flip_pipeline.run_lock import record_owner, recover_from_killed_runs
from flip_pipeline.settings import ENTITY_AVERAGE, ENTITY_BATCH_SIZE, ENTITY_KS, SHARD_ROWS, TOP_N, computing_entry

CONFIG_FILES = [str(f) for f in workflow.configfiles]
R = config.get("results", "results")
try:
    validate_config(config, " + ".join(CONFIG_FILES) + " (with any --config overrides)", CONFIG_FILES)
    check_output_folder(R, "results folder (config key results)")
except FlipInputError as err:
    raise WorkflowError(str(err)) from None

STATE = Path(".snakemake")  # Snakemake's own: its locks and its incomplete markers


def uses_lock_files():
    """Whether this is the main process of a run whose locks are files (Snakemake's default persistence)."""
    backend = getattr(workflow.workflow_settings, "persistence_backend", None)
    return workflow.is_main_process and getattr(backend, "name", "FILE") == "FILE"


def record_lock_owner():
    """Record this run as the owner of the lock files it holds (run_lock.record_owner); at onstart."""
    if uses_lock_files() and workflow.execution_settings.lock:
        mine = [Path(f).name for f in getattr(workflow.persistence, "_lockfile", {}).values()]
        record_owner(STATE / "locks", ["snakemake", *sys.argv[1:]], mine or None)


if uses_lock_files():  # a killed run's lock removed, any other named (docs/running.md "Bad input, and after a crash"); never an error
    for message in recover_from_killed_runs(STATE, ["snakemake", *sys.argv[1:]]):
        logger.warning(message)
SHARDS = config.get("shard_rows", SHARD_ROWS)
DEVICE = config.get("device", "auto")
GPUS = config.get("gpus", 1)  # SLURM `--gpus` per GPU job; `--config gpus=0` for CPU-only jobs


wildcard_constraints:
    corpus=r"[^/]+",
    encoder=r"[^/]+",
    vocab=r"[^/]+",
    experiment=r"[^/]+",
    run=r"[^/]+",
    split=r"train|dev|test",
    view=view_regex(),
    name=r"[^/]+",  # a table or figure (report.smk)


def workflow_error(call, *args):
    """``call(*args)``, with bad input reported as a WorkflowError (Snakemake's own message format)."""
    try:
        return call(*args)
    except FlipInputError as err:
        raise WorkflowError(str(err)) from None


TARGETS = workflow_error(TargetPlan, config, R)  # every table and figure; a name given twice is refused here
PLAN = TARGETS.paper  # the runs of every experiment
THESIS = TARGETS.thesis  # the layer-wise analyses


def encoders_of(published):
    """Regex of the encoder names of family `published` (or of every other family); matches none when empty."""
    names = [name for name, spec in config["encoders"].items() if (spec["family"] == "published") == published]
    return "|".join(re.escape(name) for name in names) or "(?!)"


def experiments_of(checkpoint):
    """Regex of the experiment names with a `checkpoint` (fetched, never trained), or of every other."""
    names = [name for name, exp in config["experiments"].items() if ("checkpoint" in exp) == checkpoint]
    return "|".join(re.escape(name) for name in names) or "(?!)"


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


def encoder_entry(name):
    """`encoders.<name>` as a job's `--spec` JSON, without its `label` (settings.computing_entry): a new
    label changes no job's parameters, so nothing is embedded or trained again for it."""
    return as_json(computing_entry(config["encoders"][name]))


def run_of(wildcards):
    return workflow_error(PLAN.run, wildcards.experiment, wildcards.run)


def training_views(wildcards, split):
    """The embedded training views of a run, one folder each."""
    run = run_of(wildcards)
    return [paths.embedding_dir(R, run.encoder, run.corpus, split, view) for view in run.train_views]


def manifests(folders):
    return [f"{folder}/{paths.MANIFEST}" for folder in folders]


def test_view(wildcards):
    run = run_of(wildcards)
    return paths.embedding_dir(R, run.encoder, run.corpus, "test", wildcards.view)


def target_bow(wildcards, split):
    """The bag of words of a run's target view; a published checkpoint's is counted against its own vocab.json."""
    run = run_of(wildcards)
    if run.checkpoint is not None:
        return paths.checkpoint_bow_file(R, run.experiment, run.name, split, run.target_view)
    return paths.bow_file(R, run.vocab, run.corpus, split, run.target_view)


def similarity_file(wildcards, split):
    """The pair scores a run's `split` rows are filtered on when `training.sim_threshold` is set (Run.sim_views:
    text before speech, so a published encoder's are its imported scores, rule import_flip_scores); else none."""
    run = run_of(wildcards)
    if run.sim_views is None:
        return []
    return paths.pair_scores(R, run.encoder, run.corpus, split, *run.sim_views)


def model_file(wildcards):
    """The file marking a run's model complete (a swept run's: its selection)."""
    run = run_of(wildcards)
    return paths.model_file(R, run.experiment, run.name, run.model_kind)


def sweep_points(wildcards):
    """The sweep points of a swept run (an error naming the run if it has none)."""
    run = run_of(wildcards)
    if not run.points:
        raise WorkflowError(f"run {run.name!r} of experiment {run.experiment!r} has no sweep to select from")
    return run.points


def point_models(wildcards):
    """The model file of every sweep point of a swept run: all trained before one is selected."""
    return [paths.model_file(R, p.experiment, p.name, p.probe) for p in sweep_points(wildcards)]


def encoder_gpus(wildcards):
    """GPUs an embed job asks for: none for encoders that run no network here (uses_gpu)."""
    return GPUS if uses_gpu(config["encoders"][wildcards.encoder]) else 0


def entities_setting(wildcards, key, default):
    return config["entities"][wildcards.entities].get(key, default)


def report_inputs(kind):
    """The input function of the report_`kind` rule, the job's Target's `inputs` (what `flip report` reads) and `models`
    (the paper's model files, whose provenance it checks), after the orphan check (TargetPlan.check_orphans).
    A name that is not a `kind` (a figure's name asked for as a table) is a WorkflowError naming both."""

    def target_inputs(wildcards):
        target = workflow_error(TARGETS.target, wildcards.name, kind)
        workflow_error(TARGETS.check_orphans, target.name)
        return {"inputs": list(target.inputs), "models": list(target.models)}

    return target_inputs


def job_target(wildcards):
    """The Target of a report job (its kind was checked by its input function, which runs first)."""
    return workflow_error(TARGETS.target, wildcards.name)


def report_spec_file(wildcards):
    """The spec `flip report` reads for the job's target, as a file (report/spec_files.py): the report's JOB
    PARAMETERS pane then shows its path, not the whole spec as escaped JSON."""
    target = job_target(wildcards)
    return spec_file(R, target.kind, target.name, target.spec, write=not workflow.dryrun)  # `-n` writes nothing


def report_prefix(wildcards):
    target = job_target(wildcards)
    return paths.report_prefix(R, target.kind, target.name)


def report_caption(wildcards):
    """The caption workflow/report/{table,figure}.rst show for the job's target."""
    return job_target(wildcards).caption


def report_category(wildcards):
    """The report's category of a target: `Tables`/`Figures` for the paper's, `Thesis tables`/`Thesis figures`."""
    target = job_target(wildcards)
    return f"{target.kind}s".capitalize() if target.family == "paper" else f"Thesis {target.kind}s"


def thesis_model(wildcards):
    """The encoder of a layer-wise job, which must be one of thesis.models."""
    if wildcards.encoder not in THESIS.models:
        raise WorkflowError(f"encoder {wildcards.encoder!r} is not one of thesis.models")
    return wildcards.encoder


def thesis_layer_args(wildcards):
    """`--layers` of a layers job: `all`, or the model's layer names for the view's modality, each shell-quoted."""
    layers = THESIS.layer_list(thesis_model(wildcards), view_modality(wildcards.view))
    return "all" if layers == "all" else " ".join(shlex.quote(layer) for layer in layers)


def thesis_dimensions_arg(wildcards):
    """` --dimensions FILE` of a similarity job that reads the model's shared dimensions, else nothing."""
    inputs = THESIS.similarity_inputs(thesis_model(wildcards), wildcards.analysis)
    dimensions = THESIS.dimensions_file(wildcards.encoder)
    return f" --dimensions {shlex.quote(dimensions)}" if dimensions in inputs else ""


def thesis_encoder_spec(wildcards):
    """The `--spec` of a layers job: its model's `encoders.<name>` entry (encoder_entry)."""
    return encoder_entry(thesis_model(wildcards))


def layers_out_dir(wildcards):
    return paths.layers_dir(R, wildcards.encoder, wildcards.corpus, wildcards.split, wildcards.view)


def thesis_manifests(wildcards):
    """The model's extracted views (ThesisPlan.layers_manifests): the input of its dimensions and t-SNE jobs."""
    return THESIS.layers_manifests(thesis_model(wildcards))


def similarity_inputs(wildcards):
    return THESIS.similarity_inputs(thesis_model(wildcards), wildcards.analysis)


def thesis_views(wildcards):
    """`--views` of the model's dimensions, similarity and t-SNE jobs: {language: {modality: layers folder}}."""
    return as_json(THESIS.view_dirs(thesis_model(wildcards)))


def thesis_resource(wildcards):
    """`--resource`: {language: resource level} of the model's languages."""
    return as_json(THESIS.resource_levels(thesis_model(wildcards)))


# Per-run inputs and parameters of the train, splice, select, fetch_checkpoint, evaluate and
# entity_recall rules: named here so that the rules only wire them.
def run_spec(wildcards):
    """A run's `--spec` JSON (Run.spec)."""
    return as_json(run_of(wildcards).spec())


def run_encoder_spec(wildcards):
    """The `--encoder-spec` JSON of a run's encoder."""
    return encoder_entry(run_of(wildcards).encoder)


def run_model_dir(wildcards):
    """A run's model folder."""
    return paths.model_dir(R, wildcards.experiment, wildcards.run)


def run_vocab_file(wildcards):
    return paths.vocab_file(R, run_of(wildcards).vocab)


def run_vocab_dir(wildcards):
    return paths.vocab_dir(R, run_of(wildcards).vocab)


def train_dirs(wildcards):
    return training_views(wildcards, "train")


def dev_dirs(wildcards):
    return training_views(wildcards, "dev")


def train_manifests(wildcards):
    return manifests(training_views(wildcards, "train"))


def dev_manifests(wildcards):
    return manifests(training_views(wildcards, "dev"))


def train_bow(wildcards):
    return target_bow(wildcards, "train")


def dev_bow(wildcards):
    return target_bow(wildcards, "dev")


def test_bow(wildcards):
    return target_bow(wildcards, "test")


def train_sim(wildcards):
    return similarity_file(wildcards, "train")


def dev_sim(wildcards):
    return similarity_file(wildcards, "dev")


def sim_flags(wildcards, input):
    """`--sim … --dev-sim …` when the run filters its rows on pair scores, else nothing."""
    return f"--sim {shlex.quote(input.sim)} --dev-sim {shlex.quote(input.dev_sim)}" if input.sim else ""


def point_dirs(wildcards):
    """The model folder of every sweep point of a swept run."""
    return [paths.model_dir(R, p.experiment, p.name) for p in sweep_points(wildcards)]


def test_manifest(wildcards):
    return manifests([test_view(wildcards)])


def eval_method(wildcards):
    """How a run is evaluated: a SpLiCE run by its sparse codes, every other by its probe."""
    return "splice" if run_of(wildcards).probe == "splice" else "probe"


def eval_bias(wildcards):
    """`--use-bias` when the run's `evaluation.use_bias` says so (the paper evaluates without)."""
    return "--use-bias" if run_of(wildcards).evaluation.get("use_bias", False) else ""


def eval_top_n(wildcards):
    """The run's `evaluation.top_n` (default settings.TOP_N), as `--top-n` values."""
    return " ".join(str(n) for n in run_of(wildcards).evaluation.get("top_n", TOP_N))


def eval_fingerprint(wildcards):
    return run_of(wildcards).eval_fingerprint(wildcards.view)


def entities_table(wildcards):
    """The corpus table whose sentences an `entities.<name>` entry tags (its split: test unless given)."""
    return paths.corpus_table(R, entities_setting(wildcards, "corpus", None), entities_setting(wildcards, "split", "test"))


def entities_view(wildcards):
    return entities_setting(wildcards, "view", None)


def entities_pipeline(wildcards):
    return entities_setting(wildcards, "pipeline", None)


def entities_batch_size(wildcards):
    return entities_setting(wildcards, "batch_size", ENTITY_BATCH_SIZE)


def recall_ks(wildcards):
    """The `--ks` of entity recall (default settings.ENTITY_KS)."""
    return " ".join(str(k) for k in entities_setting(wildcards, "ks", ENTITY_KS))


def recall_labels(wildcards):
    return " ".join(entities_setting(wildcards, "labels", []))


def recall_fingerprint(wildcards):
    return PLAN.entity_recall_fingerprint(run_of(wildcards), wildcards.view, wildcards.entities)


def recall_average(wildcards):
    return entities_setting(wildcards, "average", ENTITY_AVERAGE)


# Paths and specs from a job's wildcards (corpus, embed, pair, vocab, bow and import rules).
def split_table(wildcards):
    """The corpus table of the job's `{corpus}` and `{split}`."""
    return paths.corpus_table(R, wildcards.corpus, wildcards.split)


def corpus_spec(wildcards):
    """`corpora.<corpus>` as `--spec` JSON."""
    return as_json(config["corpora"][wildcards.corpus])


def corpus_out_dir(wildcards):
    return paths.corpus_dir(R, wildcards.corpus)


def encoder_spec(wildcards):
    """`encoders.<encoder>` as `--spec` JSON (encoder_entry)."""
    return encoder_entry(wildcards.encoder)


def view_dir(wildcards):
    """The embedded view's folder of the job's encoder, corpus, split and view."""
    return paths.embedding_dir(R, wildcards.encoder, wildcards.corpus, wildcards.split, wildcards.view)


def pair_manifest_a(wildcards):
    return paths.embedding_manifest(R, wildcards.encoder, wildcards.corpus, wildcards.split, wildcards.view_a)


def pair_manifest_b(wildcards):
    return paths.embedding_manifest(R, wildcards.encoder, wildcards.corpus, wildcards.split, wildcards.view_b)


def pair_dir_a(wildcards):
    return paths.embedding_dir(R, wildcards.encoder, wildcards.corpus, wildcards.split, wildcards.view_a)


def pair_dir_b(wildcards):
    return paths.embedding_dir(R, wildcards.encoder, wildcards.corpus, wildcards.split, wildcards.view_b)


def vocab_table(wildcards):
    """A vocabulary is fitted on the train split of its corpus."""
    return paths.corpus_table(R, config["vocabularies"][wildcards.vocab]["corpus"], "train")


def vocab_spec(wildcards):
    return as_json(config["vocabularies"][wildcards.vocab])


def vocab_out_dir(wildcards):
    return paths.vocab_dir(R, wildcards.vocab)


def published_model(wildcards):
    """The model file of a run whose checkpoint is fetched (its bags of words use its own vocab.json)."""
    return paths.model_file(R, wildcards.experiment, wildcards.run, "published")


def run_split_table(wildcards):
    return paths.corpus_table(R, run_of(wildcards).corpus, wildcards.split)


def published_view_array(wildcards):
    return published_file(wildcards.corpus, wildcards.split, wildcards.view)


def published_pair_scores(wildcards):
    return published_scores(wildcards.corpus, wildcards.split, wildcards.view_a, wildcards.view_b)
