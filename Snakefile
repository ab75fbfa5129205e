# flip-pipeline: corpora → embeddings → vocabularies → bags of words → probes → evaluations → tables.
# Rules only wire paths and parameters; every stage is a `flip <stage>` command.
# `snakemake --cores all` builds `targets` of config.yaml (the offline quickstart);
# `snakemake <table or figure name>` builds one table or figure and only what it needs.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/corpora.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/pair.smk"
include: "workflow/rules/imports.smk"
include: "workflow/rules/vocab.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        PLAN.targets(),
