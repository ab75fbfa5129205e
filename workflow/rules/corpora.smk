rule corpus:
    output:
        train=paths.corpus_table(R, "{corpus}", "train"),
        dev=paths.corpus_table(R, "{corpus}", "dev"),
        test=paths.corpus_table(R, "{corpus}", "test"),
        info=paths.corpus_info(R, "{corpus}"),
    params:
        spec=lambda w: as_json(config["corpora"][w.corpus]),
        out_dir=lambda w: paths.corpus_dir(R, w.corpus),
    conda:
        "../../envs/core.yaml"
    log:
        "logs/corpus/{corpus}.log",
    shell:
        "flip corpus --name {wildcards.corpus} --spec {params.spec:q} --out-dir {params.out_dir:q} 2> {log:q}"
