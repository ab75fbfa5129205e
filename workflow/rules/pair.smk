# Cosine similarity per id between two embedded views of one corpus split (e.g. text_en and
# speech_en); the published FLiP code filters training pairs on it (sim_threshold).
# Request a file such as results/embeddings/minilm/sample/train/sim_text_en__text_de.parquet.


rule pair:
    input:
        a=lambda w: f"{embedding_dir(w.encoder, w.corpus, w.split, w.view_a)}/_SUCCESS",
        b=lambda w: f"{embedding_dir(w.encoder, w.corpus, w.split, w.view_b)}/_SUCCESS",
    output:
        f"{R}/embeddings/{{encoder}}/{{corpus}}/{{split}}/sim_{{view_a}}__{{view_b}}.parquet",
    wildcard_constraints:
        view_a=r"(text|speech)_[a-z]{2,3}",
        view_b=r"(text|speech)_[a-z]{2,3}",
    params:
        a=lambda w: embedding_dir(w.encoder, w.corpus, w.split, w.view_a),
        b=lambda w: embedding_dir(w.encoder, w.corpus, w.split, w.view_b),
    conda:
        "../../envs/core.yaml"
    log:
        "logs/pair/{encoder}/{corpus}/{split}/{view_a}__{view_b}.log",
    shell:
        "flip pair --a {params.a} --b {params.b} --out {output} 2> {log}"
