# Cosine similarity per id between two embedded views of one corpus split (e.g. text_en and
# speech_en); the published FLiP code filters training pairs on it (sim_threshold).
# Request a file such as results/embeddings/minilm/sample/train/sim_text_en__text_de.parquet.


rule pair:
    input:
        a=pair_manifest_a,
        b=pair_manifest_b,
    output:
        paths.pair_scores(R, "{encoder}", "{corpus}", "{split}", "{view_a}", "{view_b}"),
    wildcard_constraints:
        view_a=view_regex(),
        view_b=view_regex(),
    params:
        a=pair_dir_a,
        b=pair_dir_b,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/pair/{encoder}/{corpus}/{split}/{view_a}__{view_b}.log",
    shell:
        "flip pair --a {params.a:q} --b {params.b:q} --out {output:q} 2> {log:q}"
