# Encoders of family `published` import the published FLiP embeddings (BUT-FIT/FLiP-data)
# of a flip_data corpus instead of computing them: for those encoders these rules take the
# place of `embed` (one view of one split) and `pair` (the published text-speech scores).
# The .npy files are inputs, so a changed file re-imports its view. The embed rule never
# matches a published encoder; `pair` still does for other view pairs.

ruleorder: import_flip_scores > pair


rule import_flip_view:
    input:
        table=split_table,
        array=published_view_array,
    output:
        paths.embedding_manifest(R, "{encoder}", "{corpus}", "{split}", "{view}"),
    wildcard_constraints:
        encoder=encoders_of(published=True),
    params:
        spec=encoder_spec,
        corpus_spec=corpus_spec,
        out_dir=view_dir,
        shard_rows=SHARDS,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/import_flip_view/{encoder}/{corpus}/{split}/{view}.log",
    shell:
        "flip import-flip-view --name {wildcards.encoder} --spec {params.spec:q} --corpus-spec {params.corpus_spec:q}"
        " --corpus-table {input.table:q} --view {wildcards.view} --out-dir {params.out_dir:q}"
        " --shard-rows {params.shard_rows} 2> {log:q}"


rule import_flip_scores:
    input:
        table=split_table,
        scores=published_pair_scores,
    output:
        paths.pair_scores(R, "{encoder}", "{corpus}", "{split}", "{view_a}", "{view_b}"),
    wildcard_constraints:
        encoder=encoders_of(published=True),
        view_a=view_regex(("text",)),
        view_b=view_regex(("speech",)),
    params:
        spec=encoder_spec,
        corpus_spec=corpus_spec,
    conda:
        "../../envs/core.yaml"
    log:
        "logs/import_flip_scores/{encoder}/{corpus}/{split}/{view_a}__{view_b}.log",
    shell:
        "flip import-flip-scores --name {wildcards.encoder} --spec {params.spec:q} --corpus-spec {params.corpus_spec:q}"
        " --corpus-table {input.table:q} --out {output:q} 2> {log:q}"
