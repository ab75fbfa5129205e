# One generic rule per output kind, plus one named target rule per table and figure,
# so `snakemake <name>` regenerates exactly that table or figure, and `paper` builds the
# paper's (the `paper` list of config.yaml). Run selection: flip_pipeline/plan/runs.py;
# layouts: flip_pipeline/report/.


rule report_table:
    wildcard_constraints:
        name=r"(?!thesis_)[^/]+",  # thesis_*: workflow/rules/thesis.smk
    input:
        summaries=lambda w: report_inputs(w.name),
        models=lambda w: report_models(w.name),
    output:
        md=paths.report_file(R, "table", "{name}", "md"),
        csv=report(paths.report_file(R, "table", "{name}", "csv"), caption="../report/table.rst", category="Tables",
                   subcategory="Tidy CSV (one row per number)"),
        tex=paths.report_file(R, "table", "{name}", "tex"),
        html=report(paths.report_file(R, "table", "{name}", "html"), caption="../report/table.rst",
                    category="Tables", subcategory="Tables"),
    params:
        spec=lambda w: report_spec_file("table", w.name),
        prefix=lambda w: paths.report_prefix(R, "table", w.name),
    conda:
        "../../envs/core.yaml"
    log:
        "logs/report/table_{name}.log",
    shell:
        "flip report --kind table --name {wildcards.name} --spec @{params.spec:q} --inputs {input.summaries:q}"
        " --out-prefix {params.prefix:q} 2> {log:q}"


rule report_figure:
    wildcard_constraints:
        name=r"(?!thesis_)[^/]+",  # thesis_*: workflow/rules/thesis.smk
    input:
        summaries=lambda w: report_inputs(w.name),
        models=lambda w: report_models(w.name),
    output:
        png=report(paths.report_file(R, "figure", "{name}", "png"), caption="../report/figure.rst", category="Figures"),
        pdf=paths.report_file(R, "figure", "{name}", "pdf"),
    params:
        spec=lambda w: report_spec_file("figure", w.name),
        prefix=lambda w: paths.report_prefix(R, "figure", w.name),
    conda:
        "../../envs/core.yaml"
    log:
        "logs/report/figure_{name}.log",
    shell:
        "flip report --kind figure --name {wildcards.name} --spec @{params.spec:q} --inputs {input.summaries:q}"
        " --out-prefix {params.prefix:q} 2> {log:q}"


for _name in [*config.get("tables", {}), *config.get("figures", {})]:

    rule:
        name:
            _name
        input:
            report_outputs(_name),


rule paper:
    input:
        PLAN.targets("paper"),
