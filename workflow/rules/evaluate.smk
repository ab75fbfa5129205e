rule evaluate:
    input:
        model=f"{R}/models/{{experiment}}/{{run}}/model.safetensors",
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
