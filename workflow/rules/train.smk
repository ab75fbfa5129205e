rule train:
    input:
        vocab=lambda w: f"{R}/vocab/{run_of(w).vocab}/vocab.json",
        train_bow=lambda w: bow_file(run_of(w).vocab, run_of(w).corpus, "train", run_of(w).target_view),
        dev_bow=lambda w: bow_file(run_of(w).vocab, run_of(w).corpus, "dev", run_of(w).target_view),
        train_emb=lambda w: [f"{d}/_SUCCESS" for d in train_embedding_dirs(w, "train")],
        dev_emb=lambda w: [f"{d}/_SUCCESS" for d in train_embedding_dirs(w, "dev")],
        sim=lambda w: similarity_file(run_of(w)),
    output:
        model=f"{R}/models/{{experiment}}/{{run}}/model.safetensors",
        config=f"{R}/models/{{experiment}}/{{run}}/config.json",
        vocab=f"{R}/models/{{experiment}}/{{run}}/vocab.json",
        log=f"{R}/models/{{experiment}}/{{run}}/train_log.jsonl",
    params:
        spec=lambda w: as_json(run_of(w).spec()),
        encoder_spec=lambda w: as_json(config["encoders"][run_of(w).encoder]),
        vocab_dir=lambda w: f"{R}/vocab/{run_of(w).vocab}",
        train_dirs=lambda w: train_embedding_dirs(w, "train"),
        dev_dirs=lambda w: train_embedding_dirs(w, "dev"),
        out_dir=lambda w: f"{R}/models/{w.experiment}/{w.run}",
        sim=lambda w, input: f"--sim {input.sim}" if input.sim else "",
        device=config.get("device", "auto"),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=480,
        gpu=config.get("gpus", 1),  # SLURM `--gpus`; `--config gpus=0` for CPU-only jobs
    conda:
        "../../envs/train.yaml"
    log:
        "logs/train/{experiment}/{run}.log",
    shell:
        "flip train --spec {params.spec:q} --encoder-spec {params.encoder_spec:q} --vocab-dir {params.vocab_dir}"
        " --train-bow {input.train_bow} --dev-bow {input.dev_bow} --train-embeddings {params.train_dirs}"
        " --dev-embeddings {params.dev_dirs} {params.sim} --out-dir {params.out_dir} --device {params.device} 2> {log}"


# SpLiCE (paper §3.4): no training objective; the "model" is the concept dictionary embedded by
# the run's encoder plus the centring mean of each training view.
rule splice:
    input:
        vocab=lambda w: f"{R}/vocab/{run_of(w).vocab}/vocab.json",
        train_emb=lambda w: [f"{d}/_SUCCESS" for d in train_embedding_dirs(w, "train")],
    output:
        model=f"{R}/models/{{experiment}}/{{run}}/splice.safetensors",
        concepts=f"{R}/models/{{experiment}}/{{run}}/concepts.json",
        config=f"{R}/models/{{experiment}}/{{run}}/config.json",
    params:
        spec=lambda w: as_json(run_of(w).spec()),
        encoder_spec=lambda w: as_json(config["encoders"][run_of(w).encoder]),
        vocab_dir=lambda w: f"{R}/vocab/{run_of(w).vocab}",
        train_dirs=lambda w: train_embedding_dirs(w, "train"),
        out_dir=lambda w: f"{R}/models/{w.experiment}/{w.run}",
        device=config.get("device", "auto"),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config.get("gpus", 1),
    conda:
        "../../envs/train.yaml"
    log:
        "logs/splice/{experiment}/{run}.log",
    shell:
        "flip splice --spec {params.spec:q} --encoder-spec {params.encoder_spec:q} --vocab-dir {params.vocab_dir}"
        " --train-embeddings {params.train_dirs} --out-dir {params.out_dir} --device {params.device} 2> {log}"
