rule train:
    wildcard_constraints:
        experiment=experiments_of(checkpoint=False),  # an experiment's checkpoint is fetched instead
    input:
        vocab=lambda w: paths.vocab_file(R, run_of(w).vocab),
        train_bow=lambda w: target_bow(w, "train"),
        dev_bow=lambda w: target_bow(w, "dev"),
        train_emb=lambda w: manifests(training_views(w, "train")),
        dev_emb=lambda w: manifests(training_views(w, "dev")),
        sim=lambda w: similarity_file(w, "train"),
        dev_sim=lambda w: similarity_file(w, "dev"),
    output:
        paths.model_files(R, "{experiment}", "{run}", "flip"),
    params:
        spec=lambda w: as_json(run_of(w).spec()),
        encoder_spec=lambda w: encoder_entry(run_of(w).encoder),
        vocab_dir=lambda w: paths.vocab_dir(R, run_of(w).vocab),
        train_dirs=lambda w: training_views(w, "train"),
        dev_dirs=lambda w: training_views(w, "dev"),
        out_dir=lambda w: paths.model_dir(R, w.experiment, w.run),
        sim=lambda w, input: (f"--sim {shlex.quote(input.sim)} --dev-sim {shlex.quote(input.dev_sim)}"
                              if input.sim else ""),
        device=DEVICE,
    threads: 2
    resources:
        mem_mb=8000,
        runtime=480,
        gpu=GPUS,
    conda:
        "../../envs/train.yaml"
    log:
        "logs/train/{experiment}/{run}.log",
    shell:
        "flip train --spec {params.spec:q} --encoder-spec {params.encoder_spec:q} --vocab-dir {params.vocab_dir:q}"
        " --train-bow {input.train_bow:q} --dev-bow {input.dev_bow:q} --train-embeddings {params.train_dirs:q}"
        " --dev-embeddings {params.dev_dirs:q} {params.sim} --out-dir {params.out_dir:q} --device {params.device} 2> {log:q}"


# A swept run (an experiment's `sweep`, paper §3.5): every sweep point is trained by `train` (its own
# run and fingerprint), then `select` writes selected.json naming the point with the best dev recall
# (training's own criterion; no test data). A plain rule, not a checkpoint: the DAG stays static, so
# `snakemake -n` shows every job, and evaluate reads the swept run's folder, which loads as the
# selected point's checkpoint (formats/sweep_choice.py).
rule select:
    input:
        point_models,
    output:
        paths.model_files(R, "{experiment}", "{run}", "sweep"),
    params:
        spec=lambda w: as_json(run_of(w).spec()),
        point_dirs=lambda w: [paths.model_dir(R, p.experiment, p.name) for p in sweep_points(w)],
    localrule: True
    conda:
        "../../envs/core.yaml"
    log:
        "logs/select/{experiment}/{run}.log",
    shell:
        "flip select --spec {params.spec:q} --point-dirs {params.point_dirs:q} --out {output:q} 2> {log:q}"


# SpLiCE (paper §3.4): no training objective; the "model" is the concept dictionary embedded by
# the run's encoder plus the centring mean of each training view.
rule splice:
    input:
        vocab=lambda w: paths.vocab_file(R, run_of(w).vocab),
        train_emb=lambda w: manifests(training_views(w, "train")),
    output:
        paths.model_files(R, "{experiment}", "{run}", "splice"),
    params:
        spec=lambda w: as_json(run_of(w).spec()),
        encoder_spec=lambda w: encoder_entry(run_of(w).encoder),
        vocab_dir=lambda w: paths.vocab_dir(R, run_of(w).vocab),
        train_dirs=lambda w: training_views(w, "train"),
        out_dir=lambda w: paths.model_dir(R, w.experiment, w.run),
        device=DEVICE,
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=GPUS,
    conda:
        "../../envs/embed.yaml"  # it embeds the concept vocabulary with the run's encoder
    log:
        "logs/splice/{experiment}/{run}.log",
    shell:
        "flip splice --spec {params.spec:q} --encoder-spec {params.encoder_spec:q} --vocab-dir {params.vocab_dir:q}"
        " --train-embeddings {params.train_dirs:q} --out-dir {params.out_dir:q} --device {params.device} 2> {log:q}"


# An experiment's `checkpoint` (a published checkpoint by hub id, or a folder): nothing is trained;
# its files are copied into the run's model folder (checked against the experiment's probe and rank,
# model.safetensors last), and evaluate, entity_recall and the reports read it as any trained run's.
rule fetch_checkpoint:
    wildcard_constraints:
        experiment=experiments_of(checkpoint=True),
    output:
        paths.model_files(R, "{experiment}", "{run}", "published"),
    params:
        spec=lambda w: as_json(run_of(w).spec()),
        out_dir=lambda w: paths.model_dir(R, w.experiment, w.run),
    conda:
        "../../envs/train.yaml"
    log:
        "logs/fetch_checkpoint/{experiment}/{run}.log",
    shell:
        "flip fetch-checkpoint --spec {params.spec:q} --out-dir {params.out_dir:q} 2> {log:q}"
