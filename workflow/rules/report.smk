# One generic rule per output kind, plus one named target rule per table and figure,
# so `snakemake <name>` regenerates exactly that table or figure, and `paper` builds the
# paper's (the `paper` list of config.yaml). Layouts: flip_pipeline/report/.


rule report_table:
    input:
        lambda w: report_inputs(w.name),
    output:
        md=f"{R}/tables/{{name}}.md",
        csv=report(f"{R}/tables/{{name}}.csv", caption="../report/table.rst", category="Tables"),
        tex=f"{R}/tables/{{name}}.tex",
    params:
        spec=lambda w: report_spec(w.name),
        prefix=lambda w: f"{R}/tables/{w.name}",
    conda:
        "../../envs/core.yaml"
    log:
        "logs/report/table_{name}.log",
    shell:
        "flip report --kind table --name {wildcards.name} --spec {params.spec:q} --inputs {input}"
        " --out-prefix {params.prefix} 2> {log}"


rule report_figure:
    input:
        lambda w: report_inputs(w.name),
    output:
        png=report(f"{R}/figures/{{name}}.png", caption="../report/figure.rst", category="Figures"),
        pdf=f"{R}/figures/{{name}}.pdf",
    params:
        spec=lambda w: report_spec(w.name),
        prefix=lambda w: f"{R}/figures/{w.name}",
    conda:
        "../../envs/core.yaml"
    log:
        "logs/report/figure_{name}.log",
    shell:
        "flip report --kind figure --name {wildcards.name} --spec {params.spec:q} --inputs {input}"
        " --out-prefix {params.prefix} 2> {log}"


for _name in [*config.get("tables", {}), *config.get("figures", {})]:

    rule:
        name:
            _name
        input:
            report_outputs(_name),


rule paper:
    input:
        [path for name in config.get("paper", []) for path in report_outputs(name)],
