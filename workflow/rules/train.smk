rule train:
    wildcard_constraints:
        experiment=experiments_of(checkpoint=False),  # an experiment's checkpoint is fetched instead
    input:
        vocab=run_vocab_file,
        train_bow=train_bow,
        dev_bow=dev_bow,
        train_emb=train_manifests,
        dev_emb=dev_manifests,
        sim=train_sim,
        dev_sim=dev_sim,
    output:
        paths.model_files(R, "{experiment}", "{run}", "flip"),
    params:
        spec=run_spec,
        encoder_spec=run_encoder_spec,
        vocab_dir=run_vocab_dir,
        train_dirs=train_dirs,
        dev_dirs=dev_dirs,
        out_dir=run_model_dir,
        sim=sim_flags,
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
    benchmark:
        "logs/train/{experiment}/{run}.benchmark.tsv",
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
        spec=run_spec,
        point_dirs=point_dirs,
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
        vocab=run_vocab_file,
        train_emb=train_manifests,
    output:
        paths.model_files(R, "{experiment}", "{run}", "splice"),
    params:
        spec=run_spec,
        encoder_spec=run_encoder_spec,
        vocab_dir=run_vocab_dir,
        train_dirs=train_dirs,
        out_dir=run_model_dir,
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
    benchmark:
        "logs/splice/{experiment}/{run}.benchmark.tsv",
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
        spec=run_spec,
        out_dir=run_model_dir,
    conda:
        "../../envs/train.yaml"
    log:
        "logs/fetch_checkpoint/{experiment}/{run}.log",
    shell:
        "flip fetch-checkpoint --spec {params.spec:q} --out-dir {params.out_dir:q} 2> {log:q}"
