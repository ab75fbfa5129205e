# One generic rule per output kind, plus one named target rule per table and figure,
# so `snakemake <name>` regenerates exactly that table or figure.


rule report_table:
    input:
        lambda w: [e["path"] for e in eval_entries(config["tables"][w.name]["experiment"])],
    output:
        md=f"{R}/tables/{{name}}.md",
        csv=f"{R}/tables/{{name}}.csv",
    params:
        spec=lambda w: as_json({
            "entries": eval_entries(config["tables"][w.name]["experiment"]),
            "caption": config["tables"][w.name].get("caption", ""),
        }),
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
        lambda w: [e["path"] for e in eval_entries(config["figures"][w.name]["experiment"])],
    output:
        png=report(f"{R}/figures/{{name}}.png", caption="../report/figure.rst", category="Figures"),
        pdf=f"{R}/figures/{{name}}.pdf",
    params:
        spec=lambda w: as_json({
            "entries": eval_entries(config["figures"][w.name]["experiment"]),
            "caption": config["figures"][w.name].get("caption", ""),
        }),
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
