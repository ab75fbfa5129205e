# Shards are written beside the manifest but not declared as outputs, so Snakemake never
# deletes the finished ones of an interrupted job: a rerun embeds only the missing shards.
rule embed:
    input:
        table=lambda w: corpus_table(w.corpus, w.split),
    output:
        f"{R}/embeddings/{{encoder}}/{{corpus}}/{{split}}/{{view}}/_SUCCESS",
    wildcard_constraints:
        encoder=computed_encoders(),  # published embeddings are imported (workflow/rules/imports.smk)
    params:
        spec=lambda w: as_json(config["encoders"][w.encoder]),
        out_dir=lambda w: embedding_dir(w.encoder, w.corpus, w.split, w.view),
        shard_rows=config.get("shard_rows", 50000),
        device=config.get("device", "auto"),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
        # GPUs per job (SLURM `--gpus`): top-level `gpus` of the config, 1 when unset, 0 for
        # CPU-only jobs (`--config gpus=0`); encoders that run no network never ask for one.
        gpu=lambda w: 0
        if config["encoders"][w.encoder]["family"] in ("bow_projection", "gaussian", "gemini", "fbank_projection")
        else config.get("gpus", 1),
    conda:
        "../../envs/embed.yaml"
    log:
        "logs/embed/{encoder}/{corpus}/{split}/{view}.log",
    shell:
        "flip embed --name {wildcards.encoder} --spec {params.spec:q} --corpus-table {input.table}"
        " --view {wildcards.view} --out-dir {params.out_dir} --shard-rows {params.shard_rows}"
        " --device {params.device} 2> {log}"
