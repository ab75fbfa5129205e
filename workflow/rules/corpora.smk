rule corpus:
    output:
        train=f"{R}/corpora/{{corpus}}/train.parquet",
        dev=f"{R}/corpora/{{corpus}}/dev.parquet",
        test=f"{R}/corpora/{{corpus}}/test.parquet",
        info=f"{R}/corpora/{{corpus}}/info.json",
    params:
        spec=lambda w: as_json(config["corpora"][w.corpus]),
        out_dir=lambda w: f"{R}/corpora/{w.corpus}",
    conda:
        "../../envs/core.yaml"
    log:
        "logs/corpus/{corpus}.log",
    shell:
        "flip corpus --name {wildcards.corpus} --spec {params.spec:q} --out-dir {params.out_dir} 2> {log}"
