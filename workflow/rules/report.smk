# Every table and figure, the paper's (tables/figures of config.yaml) and the thesis's (the thesis section),
# is one Target (flip_pipeline/plan/targets.py) built by these two rules with `flip report`; layouts:
# flip_pipeline/report/layouts.py. One named rule per target and group, so that `snakemake <name>`
# regenerates exactly that table or figure (`paper`, `thesis`: all of the paper's or the thesis's).
# The input and parameter functions: workflow/rules/common.smk.


rule report_table:
    input:
        unpack(report_inputs("table")),
    output:
        md=paths.report_file(R, "table", "{name}", "md"),
        csv=report(paths.report_file(R, "table", "{name}", "csv"), caption="../report/table.rst",
                   category=report_category, subcategory="Tidy CSV (one row per number)"),
        tex=paths.report_file(R, "table", "{name}", "tex"),
        html=report(paths.report_file(R, "table", "{name}", "html"), caption="../report/table.rst",
                    category=report_category, subcategory="Tables"),
    params:
        spec=report_spec_file,
        prefix=report_prefix,
        caption=report_caption,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/report/table_{name}.log",
    shell:
        "flip report --kind table --name {wildcards.name} --spec @{params.spec:q} --inputs {input.inputs:q}"
        " --out-prefix {params.prefix:q} 2> {log:q}"


rule report_figure:
    input:
        unpack(report_inputs("figure")),
    output:
        png=report(paths.report_file(R, "figure", "{name}", "png"), caption="../report/figure.rst",
                   category=report_category),
        pdf=paths.report_file(R, "figure", "{name}", "pdf"),
    params:
        spec=report_spec_file,
        prefix=report_prefix,
        caption=report_caption,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/report/figure_{name}.log",
    shell:
        "flip report --kind figure --name {wildcards.name} --spec @{params.spec:q} --inputs {input.inputs:q}"
        " --out-prefix {params.prefix:q} 2> {log:q}"


for _name, _files in TARGETS.named_files().items():

    rule:
        name:
            _name
        input:
            _files,
