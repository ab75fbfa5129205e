rule vocab:
    input:
        table=lambda w: corpus_table(config["vocabularies"][w.vocab]["corpus"], "train"),
    output:
        vocab=f"{R}/vocab/{{vocab}}/vocab.json",
        counts=f"{R}/vocab/{{vocab}}/counts.parquet",
        settings=f"{R}/vocab/{{vocab}}/settings.json",
    params:
        spec=lambda w: as_json(config["vocabularies"][w.vocab]),
        out_dir=lambda w: f"{R}/vocab/{w.vocab}",
    conda:
        "../../envs/core.yaml"
    log:
        "logs/vocab/{vocab}.log",
    shell:
        "flip vocab --name {wildcards.vocab} --spec {params.spec:q} --corpus-table {input.table}"
        " --out-dir {params.out_dir} 2> {log}"


rule bow:
    input:
        vocab=f"{R}/vocab/{{vocab}}/vocab.json",
        table=lambda w: corpus_table(w.corpus, w.split),
    output:
        f"{R}/bow/{{vocab}}/{{corpus}}/{{split}}/{{view}}.npz",
    params:
        vocab_dir=lambda w: f"{R}/vocab/{w.vocab}",
    conda:
        "../../envs/core.yaml"
    log:
        "logs/bow/{vocab}/{corpus}/{split}/{view}.log",
    shell:
        "flip bow --vocab-dir {params.vocab_dir} --corpus-table {input.table} --view {wildcards.view}"
        " --out {output} 2> {log}"
