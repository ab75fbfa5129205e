# flip-pipeline: corpora → embeddings → vocabularies → bags of words → probes → evaluations → tables.
# Rules only wire paths and parameters; every stage is a `flip <stage>` command.
# `snakemake --cores all` builds `targets` of config.yaml (the offline quickstart);
# `snakemake <table or figure name>` builds one table or figure and only what it needs.

import os

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

from flip_pipeline.config.yaml_loader import read_config_file
from flip_pipeline.errors import FlipInputError

min_version("9.0")

try:  # each config file: a YAML error or a key given twice named with file, line and column (Snakemake's
    # messages name neither; it reads --configfile files before this, reporting their syntax errors itself)
    for path in ["config.yaml"] * os.path.exists("config.yaml") + list(map(str, workflow.overwrite_configfiles)):
        read_config_file(path)
except FlipInputError as err:
    raise WorkflowError(str(err)) from None


configfile: "config.yaml"


report: "workflow/report/workflow.rst"  # the landing page of `snakemake --report`


include: "workflow/rules/common.smk"
include: "workflow/rules/corpora.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/pair.smk"
include: "workflow/rules/imports.smk"
include: "workflow/rules/vocab.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/thesis.smk"


# Jobs that only render a table or figure from finished files, choose a swept run, or fetch from the hub
# run in the Snakemake process itself: on a cluster they never wait in the queue as jobs of their own
# (the target rules, e.g. table3_language, have no command and are local already).
localrules:
    report_table,
    report_figure,
    select,
    fetch_checkpoint,
    import_flip_view,
    import_flip_scores,


onstart:
    record_lock_owner()


rule all:
    default_target: True
    input:
        TARGETS.default_files(),
