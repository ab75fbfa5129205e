# Shards are written beside the manifest but not declared as outputs, so Snakemake never
# deletes the finished ones of an interrupted job: a rerun embeds only the missing shards.
rule embed:
    input:
        table=split_table,
    output:
        paths.embedding_manifest(R, "{encoder}", "{corpus}", "{split}", "{view}"),
    wildcard_constraints:
        encoder=rf"(?!(?:{encoders_of(published=True)})/)[^/]+",  # published: workflow/rules/imports.smk
    params:
        spec=encoder_spec,
        out_dir=view_dir,
        shard_rows=SHARDS,
        device=DEVICE,
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=encoder_gpus,
    conda:
        "../../envs/embed.yaml"
    log:
        "logs/embed/{encoder}/{corpus}/{split}/{view}.log",
    benchmark:
        "logs/embed/{encoder}/{corpus}/{split}/{view}.benchmark.tsv",
    shell:
        "flip embed --name {wildcards.encoder} --spec {params.spec:q} --corpus-table {input.table:q}"
        " --view {wildcards.view} --out-dir {params.out_dir:q} --shard-rows {params.shard_rows}"
        " --device {params.device} 2> {log:q}"
