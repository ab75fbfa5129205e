rule evaluate:
    input:
        model=lambda w: model_file(run_of(w)),
        embeddings=lambda w: f"{embedding_dir(run_of(w).encoder, run_of(w).corpus, 'test', w.view)}/_SUCCESS",
        bow=lambda w: bow_file(run_of(w).vocab, run_of(w).corpus, "test", run_of(w).target_view),
    output:
        summary=f"{R}/eval/{{experiment}}/{{run}}/{{view}}.json",
        details=f"{R}/eval/{{experiment}}/{{run}}/{{view}}.details.parquet",
    params:
        model_dir=lambda w: f"{R}/models/{w.experiment}/{w.run}",
        emb_dir=lambda w: embedding_dir(run_of(w).encoder, run_of(w).corpus, "test", w.view),
        bias=lambda w: "--use-bias" if run_of(w).evaluation.get("use_bias", False) else "",
        top_n=lambda w: " ".join(str(n) for n in run_of(w).evaluation.get("top_n", [1, 5, 10, 20])),
    conda:
        "../../envs/train.yaml"
    log:
        "logs/evaluate/{experiment}/{run}/{view}.log",
    shell:
        "flip evaluate --model-dir {params.model_dir} --embeddings {params.emb_dir} --bow {input.bow}"
        " --out {output.summary} {params.bias} --top-n {params.top_n} 2> {log}"


# Named entities of test sentences (paper §3.3) and entity recall of a probe (§4.6, Figure 1).
rule entities:
    input:
        table=lambda w: corpus_table(config["entities"][w.entities]["corpus"],
                                     config["entities"][w.entities].get("split", "test")),
    output:
        f"{R}/entities/{{entities}}.jsonl",
    params:
        view=lambda w: config["entities"][w.entities]["view"],
        pipeline=lambda w: config["entities"][w.entities]["pipeline"],
        batch_size=lambda w: config["entities"][w.entities].get("batch_size", 256),
    conda:
        "../../envs/core.yaml"
    log:
        "logs/entities/{entities}.log",
    shell:
        "flip entities --corpus-table {input.table} --view {params.view} --pipeline {params.pipeline:q}"
        " --batch-size {params.batch_size} --out {output} 2> {log}"


rule entity_recall:
    input:
        model=lambda w: model_file(run_of(w)),
        embeddings=lambda w: f"{embedding_dir(run_of(w).encoder, run_of(w).corpus, 'test', w.view)}/_SUCCESS",
        entities=f"{R}/entities/{{entities}}.jsonl",
    output:
        f"{R}/entity_recall/{{experiment}}/{{run}}/{{view}}.{{entities}}.json",
    params:
        model_dir=lambda w: f"{R}/models/{w.experiment}/{w.run}",
        emb_dir=lambda w: embedding_dir(run_of(w).encoder, run_of(w).corpus, "test", w.view),
        ks=lambda w: " ".join(str(k) for k in entity_ks(w.entities)),
        labels=lambda w: " ".join(config["entities"][w.entities].get("labels", [])),
    conda:
        "../../envs/train.yaml"
    log:
        "logs/entity_recall/{experiment}/{run}/{view}.{entities}.log",
    shell:
        "flip entity-recall --model-dir {params.model_dir} --embeddings {params.emb_dir} --entities {input.entities}"
        " --ks {params.ks} --labels {params.labels} --out {output} 2> {log}"
