rule corpus:
    output:
        train=layout.corpus_table(R, "{corpus}", "train"),
        dev=layout.corpus_table(R, "{corpus}", "dev"),
        test=layout.corpus_table(R, "{corpus}", "test"),
        info=layout.corpus_info(R, "{corpus}"),
    params:
        spec=lambda w: as_json(config["corpora"][w.corpus]),
        out_dir=lambda w: layout.corpus_dir(R, w.corpus),
    conda:
        "../../envs/core.yaml"
    log:
        "logs/corpus/{corpus}.log",
    shell:
        "flip corpus --name {wildcards.corpus} --spec {params.spec:q} --out-dir {params.out_dir:q} 2> {log:q}"
