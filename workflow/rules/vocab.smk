rule vocab:
    input:
        table=lambda w: layout.corpus_table(R, config["vocabularies"][w.vocab]["corpus"], "train"),
    output:
        vocab=layout.vocab_file(R, "{vocab}"),
        counts=layout.vocab_file(R, "{vocab}", "counts.parquet"),
        settings=layout.vocab_file(R, "{vocab}", "settings.json"),
    params:
        spec=lambda w: as_json(config["vocabularies"][w.vocab]),
        out_dir=lambda w: layout.vocab_dir(R, w.vocab),
    conda:
        "../../envs/core.yaml"
    log:
        "logs/vocab/{vocab}.log",
    shell:
        "flip vocab --name {wildcards.vocab} --spec {params.spec:q} --corpus-table {input.table:q}"
        " --out-dir {params.out_dir:q} 2> {log:q}"


rule bow:
    input:
        vocab=layout.vocab_file(R, "{vocab}"),
        table=lambda w: layout.corpus_table(R, w.corpus, w.split),
    output:
        layout.bow_file(R, "{vocab}", "{corpus}", "{split}", "{view}"),
    params:
        vocab_dir=lambda w: layout.vocab_dir(R, w.vocab),
    conda:
        "../../envs/core.yaml"
    log:
        "logs/bow/{vocab}/{corpus}/{split}/{view}.log",
    shell:
        "flip bow --vocab-dir {params.vocab_dir:q} --corpus-table {input.table:q} --view {wildcards.view}"
        " --out {output:q} 2> {log:q}"
