rule evaluate:
    input:
        model=model_file,
        embeddings=test_manifest,
        bow=test_bow,
    output:
        summary=paths.eval_summary(R, "{experiment}", "{run}", "{view}"),
        details=paths.eval_details(R, "{experiment}", "{run}", "{view}"),
    params:
        model_dir=run_model_dir,
        method=eval_method,
        emb_dir=test_view,
        bias=eval_bias,
        top_n=eval_top_n,
        fingerprint=eval_fingerprint,
        device=DEVICE,
    conda:
        "../../envs/train.yaml"
    log:
        "logs/evaluate/{experiment}/{run}/{view}.log",
    benchmark:
        "logs/evaluate/{experiment}/{run}/{view}.benchmark.tsv",
    shell:
        "flip evaluate --model-dir {params.model_dir:q} --method {params.method} --embeddings {params.emb_dir:q}"
        " --bow {input.bow:q} --out {output.summary:q} {params.bias} --top-n {params.top_n}"
        " --fingerprint {params.fingerprint} --device {params.device} 2> {log:q}"


# Named entities of test sentences (paper §3.3) and entity recall of a probe (§4.6, Figure 1).
rule entities:
    input:
        table=entities_table,
    output:
        paths.entities_file(R, "{entities}"),
    params:
        view=entities_view,
        pipeline=entities_pipeline,
        batch_size=entities_batch_size,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/entities/{entities}.log",
    shell:
        "flip entities --corpus-table {input.table:q} --view {params.view:q} --pipeline {params.pipeline:q}"
        " --batch-size {params.batch_size} --out {output:q} 2> {log:q}"


rule entity_recall:
    input:
        model=model_file,
        embeddings=test_manifest,
        entities=paths.entities_file(R, "{entities}"),
    output:
        paths.entity_recall_file(R, "{experiment}", "{run}", "{view}", "{entities}"),
    params:
        model_dir=run_model_dir,
        emb_dir=test_view,
        ks=recall_ks,
        labels=recall_labels,
        fingerprint=recall_fingerprint,
        average=recall_average,
        device=DEVICE,
    conda:
        "../../envs/train.yaml"
    log:
        "logs/entity_recall/{experiment}/{run}/{view}.{entities}.log",
    shell:
        "flip entity-recall --model-dir {params.model_dir:q} --embeddings {params.emb_dir:q} --entities {input.entities:q}"
        " --ks {params.ks} --labels {params.labels} --out {output:q} --fingerprint {params.fingerprint}"
        " --average {params.average} --device {params.device} 2> {log:q}"
