"""flip: one subcommand per pipeline stage, each a call of the stage's entry function.

Snakemake rules call these with paths and a JSON ``--spec`` (the config entry of the
thing being built); every subcommand also runs by hand. This module parses arguments and
dispatches, nothing else: the work is in :mod:`flip_pipeline.stages`. Bad input exits
with status 2 and a one-line message naming the file, row, option or config key: an
argument out of range (:mod:`flip_pipeline.cli_types`), a :class:`FlipInputError` of a stage,
or a file the file system refused (a folder given for a file, no permission, a full disk). Output into a
pipe that closes early (``flip keywords … | head -1``) ends quietly, without a traceback,
with status 141 (128 + SIGPIPE, as ``cat`` or ``seq`` killed by SIGPIPE): output was cut
short, so ``set -o pipefail`` scripts see a failure, as with those tools.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from flip_pipeline import __version__
from flip_pipeline.cli_types import (
    HelpFormatter,
    OneLineParser,
    command_overview,
    distinct,
    example_epilog,
    positive_int,
    spec_json,
    view_name,
)
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import describe
from flip_pipeline.settings import ENTITY_AVERAGE, ENTITY_BATCH_SIZE, ENTITY_KS, SHARD_ROWS, TOP_N

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `seq 1000000 | head -1`


# Each runner imports its stage on use, so `flip corpus` never loads torch.
def _entry(section: str, name: str, spec: dict, option: str = "--spec") -> None:
    """A hand-written config entry (``--spec`` of ``corpora.<name>`` …) checked against the config schema."""
    from flip_pipeline.config.schema import validate_entry
    validate_entry(section, name, spec, option)


def run_corpus(a):
    from flip_pipeline.stages.corpus import corpus_stage
    _entry("corpora", a.name, a.spec)
    corpus_stage(a.name, a.spec, a.out_dir, a.base)


def run_embed(a):
    from flip_pipeline.stages.embed import embed_stage
    _entry("encoders", a.name, a.spec)
    embed_stage(a.corpus_table, a.view, a.name, a.spec, a.out_dir, a.shard_rows, a.device)


def run_layers(a):
    from flip_pipeline.stages.layers import layers_stage
    _entry("encoders", a.name, a.spec)
    layers_stage(a.corpus_table, a.view, a.name, a.spec, "all" if a.layers == ["all"] else a.layers, a.out_dir,
                   a.shard_rows, a.device)


def run_vocab(a):
    from flip_pipeline.stages.vocab import vocab_stage
    _entry("vocabularies", a.name, a.spec)
    vocab_stage(a.name, a.spec, a.corpus_table, a.out_dir)


def run_bow(a):
    from flip_pipeline.stages.bow import bow_stage
    bow_stage(a.vocab_dir, a.corpus_table, a.view, a.out)


def run_train(a):
    from flip_pipeline.stages.train import train_stage
    if a.encoder_spec:
        _entry("encoders", str(a.spec.get("encoder")), a.encoder_spec, "--encoder-spec")
    train_stage(a.spec, a.encoder_spec, a.vocab_dir, a.train_bow, a.dev_bow, a.train_embeddings, a.dev_embeddings,
                a.sim, a.out_dir, a.device, a.dev_sim)


def run_select(a):
    from flip_pipeline.stages.select import select_stage
    select_stage(a.spec, a.point_dirs, a.out)


def run_fetch_checkpoint(a):
    from flip_pipeline.stages.fetch_checkpoint import fetch_checkpoint_stage
    fetch_checkpoint_stage(a.spec, a.out_dir)


def run_convert_weights(a):
    from flip_pipeline.models.salmonn.checkpoint import convert_checkpoint
    report = convert_checkpoint(a.checkpoint, a.out)
    print(f"{report['target']}: {report['tensors']} tensors, {report['parameters']:,} parameters from "
          f"{report['source']} (sha256 {report['sha256']}, also in {report['target']}.sha256)")


def run_splice(a):
    from flip_pipeline.stages.splice import splice_stage
    _entry("encoders", str(a.spec.get("encoder")), a.encoder_spec, "--encoder-spec")
    splice_stage(a.spec, a.encoder_spec, a.vocab_dir, a.train_embeddings, a.out_dir, a.device)


def run_evaluate(a):
    from flip_pipeline.stages.evaluate import evaluate_stage
    evaluate_stage(a.model_dir, a.method, a.embeddings, a.bow, a.out, a.use_bias, distinct(a.top_n, "--top-n"),
                   a.fingerprint, a.device)


def run_entities(a):
    from flip_pipeline.stages.entities import entities_stage
    entities_stage(a.corpus_table, a.view, a.pipeline, a.out, a.batch_size)


def run_entity_recall(a):
    from flip_pipeline.stages.entity_recall import entity_recall_stage
    entity_recall_stage(a.model_dir, a.embeddings, a.entities, list(distinct(a.ks, "--ks")), a.out, a.labels or None,
                        a.fingerprint, a.average, a.device)


def run_report(a):
    from flip_pipeline.stages.report import report_stage
    report_stage(a.kind, a.name, a.spec, a.inputs, a.out_prefix)


def run_tsne(a):
    from flip_pipeline.stages.tsne import tsne_stage
    tsne_stage(a.encoder, a.layer, a.views, a.resource, a.settings, a.out, a.pairs)


def run_shared_dimensions(a):
    from flip_pipeline.stages.shared_dimensions import shared_dimensions_stage
    shared_dimensions_stage(a.encoder, a.views, a.settings, a.out)


def run_pair(a):
    from flip_pipeline.stages.pair import pair_stage
    pair_stage(a.a, a.b, a.out)


def run_similarity(a):
    from flip_pipeline.stages.similarity import similarity_stage
    similarity_stage(a.encoder, a.analysis, a.views, a.resource, a.settings, a.out, a.dimensions)


def run_import_flip_view(a):
    from flip_pipeline.stages.import_published import import_flip_view_stage, published_source
    _entry("encoders", a.name, a.spec)
    _entry("corpora", "flip_data", a.corpus_spec, "--corpus-spec")
    import_flip_view_stage(*published_source(a.corpus_spec, a.base), a.corpus_table, a.view, a.out_dir, a.name, a.spec,
                     a.shard_rows)


def run_import_flip_scores(a):
    from flip_pipeline.stages.import_published import import_flip_scores_stage, published_source
    _entry("encoders", a.name, a.spec)
    _entry("corpora", "flip_data", a.corpus_spec, "--corpus-spec")
    import_flip_scores_stage(*published_source(a.corpus_spec, a.base), a.corpus_table, a.out, a.name)


def run_import_flip_data(a):
    from flip_pipeline.stages.import_published import import_flip_data_stage
    if a.encoder_spec is not None:
        _entry("encoders", a.encoder, a.encoder_spec, "--encoder-spec")
    import_flip_data_stage(a.root, a.corpus, a.results, a.language, a.encoder, a.encoder_spec, a.shard_rows,
                     not a.no_drop_nonfinite)


def run_check_config(a):
    from flip_pipeline.config.validation import validate_config
    from flip_pipeline.config.yaml_loader import merged_config_files
    validate_config(merged_config_files(a.files), " + ".join(a.files), a.files)
    print(f"{' + '.join(a.files)}: a valid config")


def run_keywords(a):
    from flip_pipeline.stages.keywords import keywords_stage
    for row_id, words in keywords_stage(a.model, a.text, a.embeddings, a.top_k, a.bias, a.view, a.device):
        print(f"{row_id}\t{' '.join(words)}")


def _text_or_embeddings(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", nargs="+", help="sentences to embed with the model's encoder")
    source.add_argument("--embeddings", help="a Parquet file with id and embedding columns")


# Arguments several subcommands share: (flags, argparse keywords).
SPEC = ("--spec", dict(required=True, type=spec_json, help="its config entry as JSON (or @file)"))
RUN_SPEC = ("--spec", dict(required=True, type=spec_json, help="the run (see flip_pipeline.config.runs.Run.spec)"))
DEVICE = ("--device", dict(default="auto", help="auto (CUDA when present), cpu or cuda[:i]"))
CORPUS_TABLE = ("--corpus-table", dict(required=True, help="corpora/{corpus}/{split}.parquet"))
VIEW = ("--view", dict(required=True, type=view_name, help="view column, e.g. text_en"))
OUT_DIR = ("--out-dir", dict(required=True, help="the output folder"))
SHARD_ROWS_ARG = ("--shard-rows", dict(type=positive_int, default=SHARD_ROWS, help="rows per shard (1 or more)"))
VOCAB_DIR = ("--vocab-dir", dict(required=True, help="vocab/{vocab}: the vocabulary the bags of words count"))
MODEL_DIR = ("--model-dir", dict(required=True, help="models/{experiment}/{run}, any checkpoint folder, or a "
                                                    "published checkpoint's hub id owner/name[/subfolder][@revision]"))
TEST_EMBEDDINGS = ("--embeddings", dict(required=True, help="embedding folder of the test view"))
FINGERPRINT = ("--fingerprint", dict(default=None, help="of the configuration the result belongs to (recorded)"))
KIND = ("--kind", dict(required=True, choices=["table", "figure"], help="a table (md, csv, tex, html) or a figure (png, pdf)"))
REPORT_NAME = ("--name", dict(required=True, help="its target name: tables.<name> or figures.<name> of the config, or a "
                                                   "thesis target such as thesis_fig5_1"))
TRAIN_EMBEDDINGS = ("--train-embeddings", dict(nargs="+", required=True, help="one folder per training view"))
PUBLISHED = [
    ("--name", dict(required=True, help="encoder name (encoders.<name>, family published)")), SPEC,
    ("--corpus-spec", dict(required=True, type=spec_json, help="the flip_data corpus entry (corpora.<name>) as JSON")),
    ("--base", dict(default=".", help="folder that a relative root is resolved against")),
    ("--corpus-table", dict(required=True, help="corpora/{corpus}/{split}.parquet of that corpus")),
]

COMMANDS = {
    "corpus": (run_corpus, "Build the corpus table of one corpus: {out_dir}/{train,dev,test}.parquet.", [
        ("--name", dict(required=True, help="corpus name (corpora.<name> in config.yaml)")), SPEC,
        OUT_DIR, ("--base", dict(default=".", help="folder that relative paths in the spec are resolved against")),
    ]),
    "embed": (run_embed, "Embed one view of one corpus split into Parquet shards (resumable).", [
        ("--name", dict(required=True, help="encoder name (encoders.<name>)")), SPEC, CORPUS_TABLE, VIEW,
        ("--out-dir", dict(required=True, help="embeddings/{encoder}/{corpus}/{split}/{view}")), SHARD_ROWS_ARG,
        DEVICE,
    ]),
    "layers": (run_layers, "Pool every requested layer of one view into one shard folder per layer (resumable).", [
        ("--name", dict(required=True, help="encoder name (encoders.<name>)")), SPEC, CORPUS_TABLE, VIEW,
        ("--layers", dict(nargs="+", default=["all"], help="all, or names: embeddings layer_01 ... pooled adaptor")),
        ("--out-dir", dict(required=True, help="layers/{encoder}/{corpus}/{split}/{view}")), SHARD_ROWS_ARG, DEVICE,
    ]),
    "vocab": (run_vocab, "Build a vocabulary (vocab.json, counts.parquet, settings.json) from a text view.", [
        ("--name", dict(required=True, help="vocabulary name (vocabularies.<name>)")), SPEC,
        ("--corpus-table", dict(required=True, help="the training split of the vocabulary's corpus")), OUT_DIR,
    ]),
    "bow": (run_bow, "Count a text view against a vocabulary: CSR .npz aligned with the corpus ids.", [
        ("--vocab-dir", dict(required=True, help="vocab/{vocab}, or a checkpoint folder or hub id: count against "
                                                 "the checkpoint's own vocab.json")),
        CORPUS_TABLE, VIEW, ("--out", dict(required=True, help="bow/{vocab}/{corpus}/{split}/{view}.npz")),
    ]),
    "train": (run_train, "Train LiP or FLiP on embedded views and a bag of words.", [
        RUN_SPEC,
        ("--encoder-spec", dict(type=spec_json, default={}, help="recorded in config.json for `flip keywords --text`")),
        VOCAB_DIR, ("--train-bow", dict(required=True, help="bag of words of the training split (the first training view's "
                                                             "language)")),
        ("--dev-bow", dict(required=True, help="bag of words of the dev split")), TRAIN_EMBEDDINGS,
        ("--dev-embeddings", dict(nargs="+", required=True, help="one folder per training view")),
        ("--sim", dict(help="train split's pair scores that training.sim_threshold filters on (Run.sim_views)")),
        ("--dev-sim", dict(help="the same for the dev split (the published code filters its dev data too)")),
        ("--out-dir", dict(required=True, help="models/{experiment}/{run}")), DEVICE,
    ]),
    "select": (run_select, "Select a swept run's sweep point with the best dev recall (selected.json).", [
        ("--spec", dict(required=True, type=spec_json, help="the swept run (see flip_pipeline.config.runs.Run.spec)")),
        ("--point-dirs", dict(nargs="+", required=True, help="models/{experiment}/{point}, one per point, in order")),
        ("--out", dict(required=True, help="models/{experiment}/{run}/selected.json")),
    ]),
    "fetch-checkpoint": (run_fetch_checkpoint, "Copy a published checkpoint (hub id or folder) into a run's "
                                               "model folder, checked against the probe and rank declared.", [
        ("--spec", dict(required=True, type=spec_json, help="the run of an experiment with a checkpoint "
                                                         "(see flip_pipeline.config.runs.Run.spec)")),
        ("--out-dir", dict(required=True, help="models/{experiment}/{run}")),
    ]),
    "convert-weights": (run_convert_weights, "Convert a released .pth/.pt checkpoint (SALMONN's, BEATs') to "
                                             "safetensors without running its pickle (torch.load weights_only).", [
        ("checkpoint", dict(help="the released checkpoint")),
        ("out", dict(help="the .safetensors file to write (its source's SHA-256 goes beside it, OUT.sha256)")),
    ]),
    "splice": (run_splice, "Build a SpLiCE model: concept dictionary from the encoder, centring means.", [
        RUN_SPEC,
        ("--encoder-spec", dict(required=True, type=spec_json, help="encoders.<name> as JSON: embeds the concepts")),
        ("--vocab-dir", dict(required=True, help="a concept vocabulary (vocabularies.<name>.kind: concepts)")),
        ("--train-embeddings", dict(nargs="+", required=True, help="training views: one centring mean each")),
        OUT_DIR, DEVICE,
    ]),
    "evaluate": (run_evaluate, "Score a model's keywords on one test view (summary JSON + details Parquet).", [
        MODEL_DIR,
        ("--method", dict(default="probe", choices=["probe", "splice"], help="LiP/FLiP checkpoint or SpLiCE model")),
        TEST_EMBEDDINGS,
        ("--bow", dict(required=True, help="bag of words of the reference text of the test split")),
        ("--out", dict(required=True, help="eval/{experiment}/{run}/{view}.json")),
        ("--use-bias", dict(action="store_true", help="rank with E x + b (default: E x, as the paper)")),
        ("--top-n", dict(type=positive_int, nargs="+", default=list(TOP_N),
                         help="the N of precision@N etc. (1 or more)")),
        FINGERPRINT, DEVICE,
    ]),
    "entity-recall": (run_entity_recall, "Strict and partial named-entity recall at top-k, with and without the "
                      "bias.", [
        MODEL_DIR, TEST_EMBEDDINGS,
        ("--entities", dict(required=True, help="entities/{name}.jsonl from `flip entities`")),
        ("--ks", dict(type=positive_int, nargs="+", default=list(ENTITY_KS), help="top-k depths (1 or more)")),
        ("--labels", dict(nargs="*", default=None, help="entity labels kept (default: all)")),
        ("--out", dict(required=True, help="entity_recall/{experiment}/{run}/{view}.{entities}.json")), FINGERPRINT,
        ("--average", dict(default=ENTITY_AVERAGE, choices=["sentence", "entity"],
                           help="mean over sentences (the published evaluation) or over entities")), DEVICE,
    ]),
    "report": (run_report, "Assemble a table (md, csv, tex, html) or figure (png, pdf) of the paper or the thesis "
               "from evaluation summaries, similarity files or a t-SNE map.", [
        KIND, REPORT_NAME,
        ("--spec", dict(required=True, type=spec_json, help="{layout, caption, ...}; the paper's also entries: [...]")),
        ("--inputs", dict(nargs="+", required=True, help="evaluation summaries, similarity files or a t-SNE map")),
        ("--out-prefix", dict(required=True, help="tables/{name} or figures/{name}")),
    ]),
    "tsne": (run_tsne, "Map one layer of every language and modality of a model with t-SNE (Parquet).", [
        ("--encoder", dict(required=True, help="encoders.<name> whose layers are mapped")),
        ("--layer", dict(required=True, help="layer name, e.g. layer_04")),
        ("--views", dict(required=True, type=spec_json, help='{language: {modality: layers folder}} as JSON')),
        ("--resource", dict(type=spec_json, default={}, help="{language: resource level} as JSON")),
        ("--settings", dict(type=spec_json, default={}, help="thesis.tsne as JSON")),
        ("--pairs", dict(type=spec_json, default={}, help="thesis.similarity.pairs as JSON: speech layer -> text layer")),
        ("--out", dict(required=True, help="tsne/{encoder}/{layer}.parquet")),
    ]),
    "shared-dimensions": (run_shared_dimensions, "The one reduced dimension per modality and layer of an encoder's "
                          "cross-lingual analyses (thesis Table A.7; Parquet).", [
        ("--encoder", dict(required=True, help="encoder name (recorded)")),
        ("--views", dict(required=True, type=spec_json, help='JSON (or @file): {lang: {"text": layers_dir, "speech": '
                                                          'layers_dir}}')),
        ("--settings", dict(type=spec_json, default={}, help="JSON (or @file): flip_pipeline.similarity.analysis_settings keys")),
        ("--out", dict(required=True, help="similarity/{encoder}/cross_lingual_dimensions.parquet")),
    ]),
    "entities": (run_entities, "Tag named entities of a text view with a spaCy pipeline (JSON lines).", [
        CORPUS_TABLE, ("--view", dict(required=True, type=view_name, help="text view column, e.g. text_en")),
        ("--pipeline", dict(required=True, help="spaCy pipeline: package name or nlp.to_disk folder "
                                                "(entities.pipeline)")),
        ("--out", dict(required=True, help="entities/{name}.jsonl")),
        ("--batch-size", dict(type=positive_int, default=ENTITY_BATCH_SIZE, help="sentences per spaCy batch")),
    ]),
    "pair": (run_pair, "Cosine similarity per id between two embedded views of one corpus split.", [
        ("--a", dict(required=True, help="embeddings/{encoder}/{corpus}/{split}/{viewA}")),
        ("--b", dict(required=True, help="embeddings/{encoder}/{corpus}/{split}/{viewB}")),
        ("--out", dict(required=True, help="embeddings/{encoder}/{corpus}/{split}/sim_{viewA}__{viewB}.parquet")),
    ]),
    "similarity": (run_similarity, "Layer-wise SVCCA, PWCCA and CKA of one encoder, with chance, null and "
                   "intervals (tidy Parquet).", [
        ("--encoder", dict(required=True, help="encoder name (recorded)")),
        ("--analysis", dict(required=True, choices=["cross_modal", "cross_lingual_text", "cross_lingual_speech",
                                                    "cross_lingual_speech_text"],
                            help="which sets meet: speech-text of one language, or languages within text, within "
                                 "speech, or speech against text")),
        ("--views", dict(required=True, type=spec_json, help='JSON (or @file): {lang: {"text": layers_dir, "speech": '
                                                          'layers_dir}}')),
        ("--resource", dict(required=True, type=spec_json, help="JSON (or @file): {lang: high|medium|low}")),
        ("--settings", dict(type=spec_json, default={}, help="JSON (or @file): flip_pipeline.similarity.analysis_settings keys")),
        ("--dimensions", dict(default=None, help="similarity/{encoder}/cross_lingual_dimensions.parquet (shared "
                                                 "dimensions; computed here when absent)")),
        ("--out", dict(required=True, help="similarity/{encoder}/{analysis}.parquet")),
    ]),
    "import-flip-view": (run_import_flip_view, "Import one view of one split of the published FLiP embeddings as "
                         "shards (no re-embedding).", [
        *PUBLISHED, ("--view", dict(required=True, type=view_name, help="text_{lang} or speech_{lang}")),
        ("--out-dir", dict(required=True, help="embeddings/{encoder}/{corpus}/{split}/{view}")), SHARD_ROWS_ARG,
    ]),
    "import-flip-scores": (run_import_flip_scores, "Write the published text-speech similarity scores of one split "
                           "in the pair stage's format.", [
        *PUBLISHED,
        ("--out", dict(required=True, help="embeddings/{encoder}/{corpus}/{split}/sim_text_{lang}__speech_{lang}"
                                           ".parquet")),
    ]),
    "import-flip-data": (run_import_flip_data, "Import the published FLiP data (BUT-FIT/FLiP-data) as corpus "
                         "tables, embedding shards and scores.", [
        ("--root", dict(required=True, help="folder with {split}_text_embs.npy, {split}_speech_embs.npy, "
                                            "{split}_transcript.txt, {split}_sim_scores.npy")),
        ("--corpus", dict(required=True, help="corpus name: results/corpora/{corpus}")),
        ("--results", dict(default="results", help="the results folder")),
        ("--language", dict(default="en", help="language of the views text_{lang} and speech_{lang}")),
        ("--encoder", dict(default="sonar_published", help="embeddings/{encoder}/... folder name")),
        ("--encoder-spec", dict(type=spec_json, default=None, help="JSON (or @file) fingerprinted like an "
                                "encoders.<name> entry (default: published-data spec)")),
        SHARD_ROWS_ARG,
        ("--no-drop-nonfinite", dict(action="store_true",
                                     help="stop on rows with NaN/inf embeddings or scores instead of dropping them")),
    ]),
    "check-config": (run_check_config, "Check config files as the workflow reads them (merged in order, as "
                     "--configfile merges them); an error names the file, line and column, or the key.", [
        ("files", dict(nargs="+", help="config.yaml, then any file given to snakemake with --configfile")),
    ]),
    "keywords": (run_keywords, "Print the top-k keywords of a checkpoint for text or embeddings.", [
        ("--model", dict(required=True, help="checkpoint folder (ours or a published FLiP one), or a hub id "
                                             "owner/name[/subfolder][@revision], e.g. BUT-FIT/FLiP-en-sonar/mcv15/rank-512")),
        ("--view", dict(default=None, type=view_name, help="text view of --text (default: the model's target "
                                                          "view)")),
        ("-k", "--top-k", dict(type=positive_int, default=10, help="keywords per row (1 or more)")),
        ("--bias", dict(action="store_true", help="add the log-unigram bias to the scores")), DEVICE,
        _text_or_embeddings,
    ]),
}


def build_parser() -> argparse.ArgumentParser:
    """``flip``'s parser: one subcommand per entry of :data:`COMMANDS`; ``flip --help`` lists the user commands
    apart from the pipeline stages (:func:`~flip_pipeline.cli_types.command_overview`), and every page has an
    example and each option's default (:class:`~flip_pipeline.cli_types.HelpFormatter`)."""
    parser = OneLineParser(prog="flip", description="flip: linear probes of sentence-embedding spaces (LiP, FLiP): "
                           "commands for their users, and the stages of the Snakemake pipeline.",
                           formatter_class=HelpFormatter,
                           epilog=command_overview({name: help_text for name, (_, help_text, _) in COMMANDS.items()}))
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="one of the commands below")
    for name, (func, help_text, arguments) in COMMANDS.items():  # no help=: the epilog lists them, grouped
        p = sub.add_parser(name, description=help_text, epilog=example_epilog(name), formatter_class=HelpFormatter)
        p.set_defaults(func=func)
        for argument in arguments:  # (flags..., keywords), or a function adding a group
            if callable(argument):
                argument(p)
            else:
                p.add_argument(*argument[:-1], **argument[-1])
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help (0), or an argument refused (2, one line already printed)
        return done.code if isinstance(done.code, int) else 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        args.func(args)
        sys.stdout.flush()  # here, so that a closed pipe is caught below and not at interpreter exit
    except FlipInputError as err:
        print(f"flip {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as err:  # refused by the file system where no stage checks: one line naming the file
        logging.getLogger("flip").debug("the file system's error", exc_info=True)  # -v: with its traceback
        print(f"flip {args.command}: error: {err.filename or 'a file'}: {describe(err)}", file=sys.stderr)
        return 2
    return 0


def _discard_stdout() -> None:
    """Point stdout at the null device, so that flushing what is still buffered cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
