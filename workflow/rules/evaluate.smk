rule evaluate:
    input:
        model=model_file,
        embeddings=lambda w: manifests([test_view(w)]),
        bow=lambda w: target_bow(w, "test"),
    output:
        summary=paths.eval_summary(R, "{experiment}", "{run}", "{view}"),
        details=paths.eval_details(R, "{experiment}", "{run}", "{view}"),
    params:
        model_dir=lambda w: paths.model_dir(R, w.experiment, w.run),
        method=lambda w: "splice" if run_of(w).probe == "splice" else "probe",
        emb_dir=test_view,
        bias=lambda w: "--use-bias" if run_of(w).evaluation.get("use_bias", False) else "",
        top_n=lambda w: " ".join(str(n) for n in run_of(w).evaluation.get("top_n", TOP_N)),
        fingerprint=lambda w: run_of(w).eval_fingerprint(w.view),
        device=DEVICE,
    conda:
        "../../envs/train.yaml"
    log:
        "logs/evaluate/{experiment}/{run}/{view}.log",
    shell:
        "flip evaluate --model-dir {params.model_dir:q} --method {params.method} --embeddings {params.emb_dir:q}"
        " --bow {input.bow:q} --out {output.summary:q} {params.bias} --top-n {params.top_n}"
        " --fingerprint {params.fingerprint} --device {params.device} 2> {log:q}"


# Named entities of test sentences (paper §3.3) and entity recall of a probe (§4.6, Figure 1).
rule entities:
    input:
        table=lambda w: paths.corpus_table(R, entities_setting(w, "corpus", None), entities_setting(w, "split", "test")),
    output:
        paths.entities_file(R, "{entities}"),
    params:
        view=lambda w: entities_setting(w, "view", None),
        pipeline=lambda w: entities_setting(w, "pipeline", None),
        batch_size=lambda w: entities_setting(w, "batch_size", ENTITY_BATCH_SIZE),
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
        embeddings=lambda w: manifests([test_view(w)]),
        entities=paths.entities_file(R, "{entities}"),
    output:
        paths.entity_recall_file(R, "{experiment}", "{run}", "{view}", "{entities}"),
    params:
        model_dir=lambda w: paths.model_dir(R, w.experiment, w.run),
        emb_dir=test_view,
        ks=lambda w: " ".join(str(k) for k in entities_setting(w, "ks", ENTITY_KS)),
        labels=lambda w: " ".join(entities_setting(w, "labels", [])),
        fingerprint=lambda w: PLAN.entity_recall_fingerprint(run_of(w), w.view, w.entities),
        average=lambda w: entities_setting(w, "average", ENTITY_AVERAGE),
        device=DEVICE,
    conda:
        "../../envs/train.yaml"
    log:
        "logs/entity_recall/{experiment}/{run}/{view}.{entities}.log",
    shell:
        "flip entity-recall --model-dir {params.model_dir:q} --embeddings {params.emb_dir:q} --entities {input.entities:q}"
        " --ks {params.ks} --labels {params.labels} --out {output:q} --fingerprint {params.fingerprint}"
        " --average {params.average} --device {params.device} 2> {log:q}"
