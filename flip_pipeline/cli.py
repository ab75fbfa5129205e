"""flip: one thin subcommand per pipeline stage.

Snakemake rules call these with paths and a JSON ``--spec`` (the config entry of the
thing being built); every subcommand also runs by hand. Bad input exits with status 2
and a one-line message naming the file, row or config key.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from flip_pipeline.errors import FlipInputError


def _spec(value: str) -> dict:
    """``--spec`` takes JSON text or ``@file.json``."""
    text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"--spec is not valid JSON: {err}") from None


def cmd_corpus(args: argparse.Namespace) -> None:
    from flip_pipeline.corpora import build_corpus

    build_corpus(args.name, args.spec, args.out_dir, Path(args.base).resolve())


def cmd_embed(args: argparse.Namespace) -> None:
    from flip_pipeline.device import pick_device
    from flip_pipeline.embed import embed_view

    device = str(pick_device(args.device))
    embed_view(args.corpus_table, args.view, args.name, args.spec, args.out_dir, args.shard_rows, device)


def cmd_vocab(args: argparse.Namespace) -> None:
    from flip_pipeline.corpora.table import read_view, view_language
    from flip_pipeline.text import default_pattern
    from flip_pipeline.vocab import build_vocabulary, write_vocabulary

    spec = args.spec
    _, texts = read_view(args.corpus_table, spec["view"])
    pattern = spec.get("pattern", default_pattern(view_language(spec["view"])))
    settings = {"name": args.name, **spec, "source": str(args.corpus_table), "sentences": len(texts)}
    if spec.get("kind", "words") == "concepts":
        from flip_pipeline.concepts import ConceptSettings, build_concepts, write_concepts

        chosen = {k: v for k, v in spec.items() if k not in ("corpus", "view", "kind", "max_words")}
        concepts, counts = build_concepts(
            texts, ConceptSettings.from_dict({**chosen, "pattern": pattern}, f"vocabularies.{args.name}"),
            f"vocabularies.{args.name}")
        write_concepts(args.out_dir, concepts, counts, settings)
        return
    vocab, counts = build_vocabulary(texts, pattern, spec.get("max_words", 100_000), spec.get("min_count", 1))
    write_vocabulary(args.out_dir, vocab, counts, settings)


def cmd_bow(args: argparse.Namespace) -> None:
    import numpy as np

    from flip_pipeline.corpora.table import read_view
    from flip_pipeline.vocab import BagOfWords, load_counting_vocabulary

    vocab = load_counting_vocabulary(args.vocab_dir)
    ids, texts = read_view(args.corpus_table, args.view)
    counts, oov = vocab.bag_of_words(texts)
    BagOfWords(np.asarray(ids, dtype=str), counts, oov).save(args.out)


def cmd_train(args: argparse.Namespace) -> None:
    import numpy as np

    from flip_pipeline.alignment import AlignedView
    from flip_pipeline.batches import TrainingData
    from flip_pipeline.checkpoint import save_checkpoint
    from flip_pipeline.device import pick_device
    from flip_pipeline.shards import ViewEmbeddings
    from flip_pipeline.train import TrainSettings, make_dev_set, train_probe
    from flip_pipeline.vocab import BagOfWords, Vocabulary

    spec = args.spec
    if len(args.train_embeddings) != len(spec["weights"]) or len(args.dev_embeddings) != len(spec["weights"]):
        raise FlipInputError(f"run {spec['run']}: expected {len(spec['weights'])} train and dev embedding folders")
    device = pick_device(args.device)
    settings = TrainSettings.from_dict(spec.get("training", {}))
    vocab = Vocabulary.load(args.vocab_dir)
    train_bow = BagOfWords.load(args.train_bow)
    keep = None
    if settings.sim_threshold is not None:
        from flip_pipeline.pair import similarity_mask

        if not args.sim:
            raise FlipInputError(f"run {spec['run']}: training.sim_threshold is set but no --sim file was given")
        keep = similarity_mask(args.sim, train_bow.ids, settings.sim_threshold)
    views = [ViewEmbeddings(d) for d in args.train_embeddings]
    data = TrainingData(views, spec["weights"], train_bow, args.train_bow, keep)
    dev_bow = BagOfWords.load(args.dev_bow)
    dev_views = [AlignedView(ViewEmbeddings(folder), dev_bow.ids, args.dev_bow)
                 for folder, weight in zip(args.dev_embeddings, spec["weights"]) if weight > 0]
    present = np.logical_and.reduce([view.present for view in dev_views])  # rows no encoder skipped
    dev = make_dev_set([view.read_rows(0, len(view))[present] for view in dev_views], dev_bow.counts[present],
                       args.dev_bow)
    rank = None if spec["rank"] in (None, "full") else int(spec["rank"])
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    probe, summary = train_probe(spec["probe"], rank, data, dev, settings, device, out / "train_log.jsonl")
    config = {**spec, "dim": data.dim, "rank": getattr(probe, "rank", None), "encoder_spec": args.encoder_spec,
              "result": summary}
    save_checkpoint(out, probe, vocab, config)


def cmd_splice(args: argparse.Namespace) -> None:
    from flip_pipeline.concepts import ConceptVocabulary
    from flip_pipeline.device import pick_device
    from flip_pipeline.encoders import build_encoder
    from flip_pipeline.probes.splice import SpliceSettings, build_splice_model
    from flip_pipeline.shards import ViewEmbeddings

    spec = args.spec
    settings = SpliceSettings.from_dict(spec.get("training", {}), f"experiments.{spec['experiment']}.splice")
    device = str(pick_device(args.device))
    concepts = ConceptVocabulary.load(args.vocab_dir).concepts
    encoder = build_encoder(spec["encoder"], args.encoder_spec, device)
    views = {view.manifest["view"]: view.chunks() for view in map(ViewEmbeddings, args.train_embeddings)}
    model = build_splice_model(concepts, encoder, spec["target_view"], views, device)
    model.info.update({"run": spec["run"], "vocab": spec["vocab"], "settings": settings.__dict__,
                       "encoder_spec": args.encoder_spec})
    model.save(args.out_dir)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from flip_pipeline.evaluate import evaluate_view, probe_ranker, write_evaluation
    from flip_pipeline.shards import ViewEmbeddings
    from flip_pipeline.vocab import BagOfWords

    embeddings = ViewEmbeddings(args.embeddings)
    if (Path(args.model_dir) / "splice.safetensors").exists():
        from flip_pipeline.probes.splice import SpliceModel, SpliceSettings

        model = SpliceModel.load(args.model_dir)
        settings = SpliceSettings.from_dict(model.info.get("settings", {}), f"{args.model_dir}/config.json")
        ranker, words = model.ranker(embeddings.manifest["view"], settings), model.concepts
        method = {"method": "splice"}
    else:
        from flip_pipeline.checkpoint import load_checkpoint

        probe, vocab, _ = load_checkpoint(args.model_dir)
        ranker, words = probe_ranker(probe, args.use_bias), vocab.words
        method = {"method": "probe", "use_bias": args.use_bias}
    summary, details = evaluate_view(ranker, words, embeddings, BagOfWords.load(args.bow), args.bow,
                                     top_n=tuple(args.top_n))
    summary = {"model": str(args.model_dir), "embeddings": str(args.embeddings), **method, **summary}
    write_evaluation(summary, details, args.out)


def cmd_entity_recall(args: argparse.Namespace) -> None:
    from flip_pipeline.entity_recall import entity_recall_stage

    summary = entity_recall_stage(args.model_dir, args.embeddings, args.entities, args.ks, args.out, args.labels or None)
    logging.getLogger("flip.entity_recall").info("%d entities in %d sentences", summary["n_entities"],
                                                  summary["n_sentences"])


def cmd_report(args: argparse.Namespace) -> None:
    from flip_pipeline.report import write_report

    write_report(args.kind, args.name, args.spec, args.inputs, args.out_prefix)


def cmd_keywords(args: argparse.Namespace) -> None:
    from flip_pipeline.keywords import query_keywords

    for row_id, words in query_keywords(args.model, args.text, args.embeddings, args.top_k, args.bias, args.view):
        print(f"{row_id}\t{' '.join(words)}")


def cmd_entities(args: argparse.Namespace) -> None:
    from flip_pipeline.entities import entities_stage

    summary = entities_stage(args.corpus_table, args.view, args.pipeline, args.out, args.batch_size)
    logging.getLogger("flip.entities").info("%s", json.dumps(summary))


def cmd_pair(args: argparse.Namespace) -> None:
    from flip_pipeline.pair import pair_views

    summary = pair_views(args.a, args.b, args.out)
    logging.getLogger("flip.pair").info("%s", json.dumps(summary))


def cmd_import_flip_data(args: argparse.Namespace) -> None:
    from flip_pipeline.corpora.flip_data import import_flip_data

    info = import_flip_data(args.root, args.corpus, args.results, args.language, args.encoder,
                            args.encoder_spec, args.shard_rows, not args.no_drop_nonfinite)
    logging.getLogger("flip.import").info("%s", json.dumps(info["rows"]))


def _published(args: argparse.Namespace) -> tuple[Path, str]:
    """Root folder and language of the flip_data corpus entry ``--corpus-spec``."""
    from flip_pipeline.corpora.flip_data import published_root

    return published_root(args.corpus_spec, Path(args.base).resolve()), args.corpus_spec.get("language", "en")


def cmd_import_flip_view(args: argparse.Namespace) -> None:
    from flip_pipeline.corpora.flip_data import import_flip_view

    root, language = _published(args)
    import_flip_view(root, language, args.corpus_table, args.view, args.out_dir, args.name, args.spec, args.shard_rows)


def cmd_import_flip_scores(args: argparse.Namespace) -> None:
    from flip_pipeline.corpora.flip_data import import_flip_scores

    root, language = _published(args)
    n = import_flip_scores(root, language, args.corpus_table, args.out, args.name)
    logging.getLogger("flip.import").info("%d published scores written to %s", n, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flip", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="STAGE")

    def add(name: str, func, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("corpus", cmd_corpus, "Build the corpus table of one corpus: {out_dir}/{train,dev,test}.parquet.")
    p.add_argument("--name", required=True, help="corpus name (corpora.<name> in config.yaml)")
    p.add_argument("--spec", required=True, type=_spec, help="its config entry as JSON (or @file)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--base", default=".", help="folder that relative paths in the spec are resolved against")

    p = add("embed", cmd_embed, "Embed one view of one corpus split into Parquet shards (resumable).")
    p.add_argument("--name", required=True, help="encoder name (encoders.<name>)")
    p.add_argument("--spec", required=True, type=_spec, help="its config entry as JSON (or @file)")
    p.add_argument("--corpus-table", required=True, help="corpora/{corpus}/{split}.parquet")
    p.add_argument("--view", required=True, help="view column, e.g. text_en")
    p.add_argument("--out-dir", required=True, help="embeddings/{encoder}/{corpus}/{split}/{view}")
    p.add_argument("--shard-rows", type=int, default=50_000)
    p.add_argument("--device", default="auto")

    p = add("vocab", cmd_vocab, "Build a vocabulary (vocab.json, counts.parquet, settings.json) from a text view.")
    p.add_argument("--name", required=True, help="vocabulary name (vocabularies.<name>)")
    p.add_argument("--spec", required=True, type=_spec)
    p.add_argument("--corpus-table", required=True, help="the training split of the vocabulary's corpus")
    p.add_argument("--out-dir", required=True)

    p = add("bow", cmd_bow, "Count a text view against a vocabulary: CSR .npz aligned with the corpus ids.")
    p.add_argument("--vocab-dir", required=True)
    p.add_argument("--corpus-table", required=True)
    p.add_argument("--view", required=True)
    p.add_argument("--out", required=True)

    p = add("train", cmd_train, "Train LiP or FLiP on embedded views and a bag of words.")
    p.add_argument("--spec", required=True, type=_spec, help="the run (see flip_pipeline.config.Run.spec)")
    p.add_argument("--encoder-spec", type=_spec, default={}, help="recorded in config.json for `flip keywords --text`")
    p.add_argument("--vocab-dir", required=True)
    p.add_argument("--train-bow", required=True)
    p.add_argument("--dev-bow", required=True)
    p.add_argument("--train-embeddings", nargs="+", required=True, help="one folder per training view")
    p.add_argument("--dev-embeddings", nargs="+", required=True, help="one folder per training view")
    p.add_argument("--sim", help="per-id cosine of the two training views (for training.sim_threshold)")
    p.add_argument("--out-dir", required=True, help="models/{experiment}/{run}")
    p.add_argument("--device", default="auto")

    p = add("evaluate", cmd_evaluate, "Score a model's keywords on one test view (summary JSON + details Parquet).")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--embeddings", required=True, help="embedding folder of the test view")
    p.add_argument("--bow", required=True, help="bag of words of the reference text of the test split")
    p.add_argument("--out", required=True, help="eval/{experiment}/{run}/{view}.json")
    p.add_argument("--use-bias", action="store_true", help="rank with E x + b (default: E x, as the paper)")
    p.add_argument("--top-n", type=int, nargs="+", default=[1, 5, 10, 20])

    p = add("splice", cmd_splice, "Build a SpLiCE model: concept dictionary from the encoder, centring means.")
    p.add_argument("--spec", required=True, type=_spec, help="the run (see flip_pipeline.config.Run.spec)")
    p.add_argument("--encoder-spec", required=True, type=_spec, help="encoders.<name> as JSON: embeds the concepts")
    p.add_argument("--vocab-dir", required=True, help="a concept vocabulary (vocabularies.<name>.kind: concepts)")
    p.add_argument("--train-embeddings", nargs="+", required=True, help="training views: one centring mean each")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--device", default="auto")

    p = add("entity-recall", cmd_entity_recall, "Strict and partial named-entity recall at top-k, with and "
            "without the bias.")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--embeddings", required=True, help="embedding folder of the test view")
    p.add_argument("--entities", required=True, help="entities/{name}.jsonl from `flip entities`")
    p.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 5, 10, 20, 50])
    p.add_argument("--labels", nargs="*", default=None, help="entity labels kept (default: all)")
    p.add_argument("--out", required=True)

    p = add("report", cmd_report, "Assemble a table (md, csv) or figure (png, pdf) from evaluation summaries.")
    p.add_argument("--kind", required=True, choices=["table", "figure"])
    p.add_argument("--name", required=True)
    p.add_argument("--spec", required=True, type=_spec, help="{runs: [...], test_views: [...], caption: ...}")
    p.add_argument("--inputs", nargs="+", required=True, help="evaluation summaries")
    p.add_argument("--out-prefix", required=True, help="tables/{name} or figures/{name}")

    p = add("entities", cmd_entities, "Tag named entities of a text view with a spaCy pipeline (JSON lines).")
    p.add_argument("--corpus-table", required=True, help="corpora/{corpus}/{split}.parquet")
    p.add_argument("--view", required=True, help="text view column, e.g. text_en")
    p.add_argument("--pipeline", required=True, help="spaCy pipeline: package name or nlp.to_disk folder "
                   "(entities.pipeline)")
    p.add_argument("--out", required=True, help="entities/{corpus}/{split}/{view}.jsonl")
    p.add_argument("--batch-size", type=int, default=256)

    p = add("pair", cmd_pair, "Cosine similarity per id between two embedded views of one corpus split.")
    p.add_argument("--a", required=True, help="embeddings/{encoder}/{corpus}/{split}/{viewA}")
    p.add_argument("--b", required=True, help="embeddings/{encoder}/{corpus}/{split}/{viewB}")
    p.add_argument("--out", required=True, help="embeddings/{encoder}/{corpus}/{split}/sim_{viewA}__{viewB}.parquet")

    def add_published(name: str, func, help_text: str) -> argparse.ArgumentParser:
        p = add(name, func, help_text)
        p.add_argument("--name", required=True, help="encoder name (encoders.<name>, family published)")
        p.add_argument("--spec", required=True, type=_spec, help="its config entry as JSON (or @file)")
        p.add_argument("--corpus-spec", required=True, type=_spec,
                       help="the flip_data corpus entry (corpora.<name>) as JSON (or @file)")
        p.add_argument("--base", default=".", help="folder that a relative root is resolved against")
        p.add_argument("--corpus-table", required=True, help="corpora/{corpus}/{split}.parquet of that corpus")
        return p

    p = add_published("import-flip-view", cmd_import_flip_view,
                      "Import one view of one split of the published FLiP embeddings as shards (no re-embedding).")
    p.add_argument("--view", required=True, help="text_{lang} or speech_{lang}")
    p.add_argument("--out-dir", required=True, help="embeddings/{encoder}/{corpus}/{split}/{view}")
    p.add_argument("--shard-rows", type=int, default=50_000)

    p = add_published("import-flip-scores", cmd_import_flip_scores,
                      "Write the published text-speech similarity scores of one split in the pair stage's format.")
    p.add_argument("--out", required=True, help="embeddings/{encoder}/{corpus}/{split}/sim_text_{lang}__speech_{lang}.parquet")

    p = add("import-flip-data", cmd_import_flip_data,
            "Import the published FLiP data (BUT-FIT/FLiP-data) as corpus tables, embedding shards and scores.")
    p.add_argument("--root", required=True, help="folder with {split}_text_embs.npy, {split}_speech_embs.npy, "
                   "{split}_transcript.txt, {split}_sim_scores.npy (e.g. data/cv_15/en/sonar_embeddings)")
    p.add_argument("--corpus", required=True, help="corpus name: results/corpora/{corpus}")
    p.add_argument("--results", default="results", help="the results folder")
    p.add_argument("--language", default="en", help="language of the views text_{lang} and speech_{lang}")
    p.add_argument("--encoder", default="sonar_published", help="embeddings/{encoder}/... folder name")
    p.add_argument("--encoder-spec", type=_spec, default=None,
                   help="JSON (or @file) fingerprinted like an encoders.<name> entry (default: published-data spec)")
    p.add_argument("--shard-rows", type=int, default=50_000)
    p.add_argument("--no-drop-nonfinite", action="store_true",
                   help="stop on rows with NaN/inf embeddings or scores instead of dropping them")

    p = add("keywords", cmd_keywords, "Print the top-k keywords of a checkpoint for text or embeddings.")
    p.add_argument("--model", required=True, help="checkpoint folder (ours or a published FLiP one)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", nargs="+", help="sentences to embed with the model's encoder")
    src.add_argument("--embeddings", help="a Parquet file with id and embedding columns")
    p.add_argument("--view", default=None, help="view of --text (default: the model's target view)")
    p.add_argument("-k", "--top-k", type=int, default=10)
    p.add_argument("--bias", action="store_true", help="add the log-unigram bias to the scores")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        args.func(args)
    except FlipInputError as err:
        print(f"flip {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
