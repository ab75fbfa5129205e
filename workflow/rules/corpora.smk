rule corpus:
    output:
        train=paths.corpus_table(R, "{corpus}", "train"),
        dev=paths.corpus_table(R, "{corpus}", "dev"),
        test=paths.corpus_table(R, "{corpus}", "test"),
        info=paths.corpus_info(R, "{corpus}"),
    params:
        spec=corpus_spec,
        out_dir=corpus_out_dir,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/corpus/{corpus}.log",
    shell:
        "flip corpus --name {wildcards.corpus} --spec {params.spec:q} --out-dir {params.out_dir:q} 2> {log:q}"
