rule vocab:
    input:
        table=lambda w: paths.corpus_table(R, config["vocabularies"][w.vocab]["corpus"], "train"),
    output:
        vocab=paths.vocab_file(R, "{vocab}"),
        counts=paths.vocab_file(R, "{vocab}", "counts.parquet"),
        settings=paths.vocab_file(R, "{vocab}", "settings.json"),
    params:
        spec=lambda w: as_json(config["vocabularies"][w.vocab]),
        out_dir=lambda w: paths.vocab_dir(R, w.vocab),
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
        table=lambda w: paths.corpus_table(R, w.corpus, w.split),
    output:
        paths.bow_file(R, "{vocab}", "{corpus}", "{split}", "{view}"),
    params:
        vocab_dir=lambda w: paths.vocab_dir(R, w.vocab),
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
        model=lambda w: paths.model_file(R, w.experiment, w.run, "published"),
        table=lambda w: paths.corpus_table(R, run_of(w).corpus, w.split),
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
