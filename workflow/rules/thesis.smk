# The layer-wise family (seed 002): per-layer representations → shared cross-lingual dimensions
# → similarity with chance levels, and t-SNE maps → the thesis's figures and tables. What each builds comes from
# flip_pipeline/plan/thesis.py (ThesisPlan); `snakemake thesis` builds all of it,
# `snakemake thesis_fig5_1` one figure and only what it needs. THESIS and the input
# functions: workflow/rules/common.smk.

# Layer shards are written beside the manifest but not declared as outputs, so Snakemake
# never deletes the finished ones of an interrupted job (as rule embed).
rule layers:
    input:
        table=lambda w: paths.corpus_table(R, w.corpus, w.split),
    output:
        paths.layers_manifest(R, "{encoder}", "{corpus}", "{split}", "{view}"),
    params:
        spec=lambda w: encoder_entry(thesis_model(w)),
        layers=thesis_layer_args,
        out_dir=lambda w: paths.layers_dir(R, w.encoder, w.corpus, w.split, w.view),
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
        lambda w: THESIS.layers_manifests(thesis_model(w)),
    output:
        paths.dimensions_file(R, "{encoder}"),
    params:
        views=lambda w: as_json(THESIS.view_dirs(thesis_model(w))),
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
        lambda w: THESIS.similarity_inputs(thesis_model(w), w.analysis),
    output:
        paths.similarity_file(R, "{encoder}", "{analysis}"),
    wildcard_constraints:
        analysis="|".join(THESIS_ANALYSES),
    params:
        views=lambda w: as_json(THESIS.view_dirs(thesis_model(w))),
        resource=lambda w: as_json(THESIS.resource_levels(thesis_model(w))),
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
        lambda w: THESIS.layers_manifests(thesis_model(w)),
    output:
        paths.tsne_file(R, "{encoder}", "{layer}"),
    params:
        views=lambda w: as_json(THESIS.view_dirs(thesis_model(w))),
        resource=lambda w: as_json(THESIS.resource_levels(thesis_model(w))),
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


rule thesis_table:
    input:
        thesis_inputs,
    output:
        md=paths.report_file(R, "table", "{name}", "md"),
        csv=report(paths.report_file(R, "table", "{name}", "csv"), caption="../report/thesis.rst",
                   category="Thesis tables", subcategory="Tidy CSV (one row per number)"),
        tex=paths.report_file(R, "table", "{name}", "tex"),
        html=report(paths.report_file(R, "table", "{name}", "html"), caption="../report/thesis.rst",
                    category="Thesis tables", subcategory="Tables"),
    wildcard_constraints:
        name=r"thesis_[^/]+",
    params:
        spec=thesis_spec_file("table"),
        prefix=lambda w: paths.report_prefix(R, "table", w.name),
        caption=thesis_caption,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/report/table_{name}.log",
    shell:
        "flip thesis-report --kind table --name {wildcards.name} --spec @{params.spec:q} --inputs {input:q}"
        " --out-prefix {params.prefix:q} 2> {log:q}"


rule thesis_figure:
    input:
        thesis_inputs,
    output:
        png=report(paths.report_file(R, "figure", "{name}", "png"), caption="../report/thesis.rst",
                   category="Thesis figures"),
        pdf=paths.report_file(R, "figure", "{name}", "pdf"),
    wildcard_constraints:
        name=r"thesis_[^/]+",
    params:
        spec=thesis_spec_file("figure"),
        prefix=lambda w: paths.report_prefix(R, "figure", w.name),
        caption=thesis_caption,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/report/figure_{name}.log",
    shell:
        "flip thesis-report --kind figure --name {wildcards.name} --spec @{params.spec:q} --inputs {input:q}"
        " --out-prefix {params.prefix:q} 2> {log:q}"


for _name in workflow_error(THESIS.outputs):

    rule:
        name:
            _name
        input:
            THESIS.files(_name),


for _group, _members in THESIS.groups().items():

    rule:
        name:
            _group
        input:
            [f for member in _members for f in THESIS.files(member)],
