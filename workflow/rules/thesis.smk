# The layer-wise family (seed 002): per-layer representations → shared cross-lingual dimensions
# → similarity with chance levels, and t-SNE maps → the thesis's figures and tables. What each builds comes from
# flip_pipeline/plan/thesis.py (ThesisPlan); `snakemake thesis` builds all of it,
# `snakemake thesis_fig5_1` one figure and only what it needs (its tables and figures are Targets like the
# paper's: rules report_table and report_figure, workflow/rules/report.smk). THESIS and the input
# functions: workflow/rules/common.smk.

# Layer shards are written beside the manifest but not declared as outputs, so Snakemake
# never deletes the finished ones of an interrupted job (as rule embed).
rule layers:
    input:
        table=split_table,
    output:
        paths.layers_manifest(R, "{encoder}", "{corpus}", "{split}", "{view}"),
    params:
        spec=thesis_encoder_spec,
        layers=thesis_layer_args,
        out_dir=layers_out_dir,
        shard_rows=SHARDS,
        device=DEVICE,
    threads: 2
    resources:
        mem_mb=16000,
        runtime=240,
        gpu=encoder_gpus,
    conda:
        "../../envs/embed.yaml"
    log:
        "logs/layers/{encoder}/{corpus}/{split}/{view}.log",
    benchmark:
        "logs/layers/{encoder}/{corpus}/{split}/{view}.benchmark.tsv",
    shell:
        "flip layers --name {wildcards.encoder} --spec {params.spec:q} --corpus-table {input.table:q}"
        " --view {wildcards.view} --layers {params.layers} --out-dir {params.out_dir:q}"
        " --shard-rows {params.shard_rows} --device {params.device} 2> {log:q}"


rule similarity_dimensions:
    input:
        thesis_manifests,
    output:
        paths.dimensions_file(R, "{encoder}"),
    params:
        views=thesis_views,
        settings=as_json(THESIS.spec.get("similarity", {})),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/similarity/{encoder}/cross_lingual_dimensions.log",
    shell:
        "flip shared-dimensions --encoder {wildcards.encoder} --views {params.views:q} --settings {params.settings:q}"
        " --out {output:q} 2> {log:q}"


rule similarity:
    input:
        similarity_inputs,
    output:
        paths.similarity_file(R, "{encoder}", "{analysis}"),
    wildcard_constraints:
        analysis="|".join(THESIS_ANALYSES),
    params:
        views=thesis_views,
        resource=thesis_resource,
        settings=as_json(THESIS.spec.get("similarity", {})),
        dimensions=thesis_dimensions_arg,
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/similarity/{encoder}/{analysis}.log",
    shell:
        "flip similarity --encoder {wildcards.encoder} --analysis {wildcards.analysis} --views {params.views:q}"
        " --resource {params.resource:q} --settings {params.settings:q}{params.dimensions} --out {output:q} 2> {log:q}"


rule tsne:
    input:
        thesis_manifests,
    output:
        paths.tsne_file(R, "{encoder}", "{layer}"),
    params:
        views=thesis_views,
        resource=thesis_resource,
        settings=as_json(THESIS.spec.get("tsne", {})),
        pairs=as_json(THESIS.spec.get("similarity", {}).get("pairs", {})),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/tsne/{encoder}/{layer}.log",
    shell:
        "flip tsne --encoder {wildcards.encoder} --layer {wildcards.layer} --views {params.views:q}"
        " --resource {params.resource:q} --settings {params.settings:q} --pairs {params.pairs:q} --out {output:q}"
        " 2> {log:q}"
