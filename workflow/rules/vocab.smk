rule vocab:
    input:
        table=vocab_table,
    output:
        vocab=paths.vocab_file(R, "{vocab}"),
        counts=paths.vocab_file(R, "{vocab}", "counts.parquet"),
        settings=paths.vocab_file(R, "{vocab}", "settings.json"),
    params:
        spec=vocab_spec,
        out_dir=vocab_out_dir,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/vocab/{vocab}.log",
    shell:
        "flip vocab --name {wildcards.vocab} --spec {params.spec:q} --corpus-table {input.table:q}"
        " --out-dir {params.out_dir:q} 2> {log:q}"


rule bow:
    input:
        vocab=paths.vocab_file(R, "{vocab}"),
        table=split_table,
    output:
        paths.bow_file(R, "{vocab}", "{corpus}", "{split}", "{view}"),
    params:
        vocab_dir=vocab_out_dir,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/bow/{vocab}/{corpus}/{split}/{view}.log",
    shell:
        "flip bow --vocab-dir {params.vocab_dir:q} --corpus-table {input.table:q} --view {wildcards.view}"
        " --out {output:q} 2> {log:q}"


# A fetched checkpoint's bag of words: counted against its own vocab.json (no vocabulary of ours has
# its columns); the train env, as reading a checkpoint folder loads torch.
rule checkpoint_bow:
    input:
        model=published_model,
        table=run_split_table,
    output:
        paths.checkpoint_bow_file(R, "{experiment}", "{run}", "{split}", "{view}"),
    params:
        model_dir=run_model_dir,
    conda:
        "../../envs/train.yaml"
    log:
        "logs/bow/models/{experiment}/{run}/{split}/{view}.log",
    shell:
        "flip bow --vocab-dir {params.model_dir:q} --corpus-table {input.table:q} --view {wildcards.view}"
        " --out {output:q} 2> {log:q}"
