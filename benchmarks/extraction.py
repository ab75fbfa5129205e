"""Sentence-transformers extraction on any device: our encoder against ``SentenceTransformer.encode``.

Needs nothing from the internet or from ``../shared``: the model is all-MiniLM-L6-v2's
architecture (BERT, 6 layers, width 384, 12 heads, mean pooling, L2 normalisation) with random
weights, written here with a WordPiece vocabulary of synthetic words, and the texts are
sentences of those words (Zipf-distributed; ``short``: 4–14 words, as Tatoeba's; ``long-tail``:
1–6 such sentences joined, P(k) ∝ 1/k², as Europarl turns). Throughput does not depend on what
the weights have learnt.

For each batch size (``--batch-sizes``) and set, in the same process on ``--device``:

* ``encode``: ``SentenceTransformer.encode(texts, batch_size=B)`` (sorts the call by characters,
  tokenises each batch as it runs it, reads each batch's vectors back before the next);
* ours: :class:`flip_pipeline.models.sentence_transformers.SentenceTransformerEncoder` at the
  same batch size (every text tokenised once, batches of similar token count, pinned copies,
  vectors read back without waiting; on a CPU its batches are also capped at 1024 padded tokens);
  its largest difference from ``encode``'s vectors (fp32: equal up to float rounding);
* ours in bf16 and fp16 (``precision``): speed, and the cosine of their vectors to fp32's;
* tokenising alone: our encoder's tokenisation of the whole set (unpadded, held flat:
  :meth:`~flip_pipeline.models.sentence_transformers.SentenceTransformerEncoder.tokenise`), and,
  in brackets, the model's ``preprocess`` of the whole set (padded to its longest, as tensors: how
  our encoder tokenised its blocks before).

Each rate is the best of ``--repeats`` runs, interleaved. Target on a GPU: ours ≥ 1.5x ``encode``.

    python benchmarks/extraction.py --device cuda
    python benchmarks/extraction.py --device cpu --short 500 --long-tail 200 --batch-sizes 64
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from synthetic import add_run_options, device_of, machine, save_json

from flip_pipeline.models.sentence_transformers import SentenceTransformerEncoder

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MINILM = {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536,
          "max_position_embeddings": 512, "type_vocab_size": 2}


def lexicon(words: int) -> list[str]:
    """``words`` distinct lower-case synthetic words of 2–9 letters."""
    rng = np.random.default_rng(7)
    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    out: dict[str, None] = {}
    while len(out) < words:
        out["".join(rng.choice(letters, size=int(rng.integers(2, 10))))] = None
    return list(out)


def sentences(n: int, vocabulary: list[str], seed: int, longest: int = 1) -> list[str]:
    """``n`` texts of 1–``longest`` sentences (P(k) ∝ 1/k²) of 4–14 Zipf-drawn words each."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, len(vocabulary) + 1)
    p /= p.sum()
    weights = 1.0 / np.arange(1, longest + 1) ** 2
    texts = []
    for k in rng.choice(np.arange(1, longest + 1), size=n, p=weights / weights.sum()):
        parts = []
        for _ in range(k):
            words = [vocabulary[i] for i in rng.choice(len(vocabulary), size=int(rng.integers(4, 15)), p=p)]
            parts.append(" ".join(words).capitalize() + rng.choice([".", "?", "!"]))
        texts.append(" ".join(parts))
    return texts


def write_model(folder: Path, vocabulary: list[str], seed: int = 0) -> Path:
    """A sentence-transformers folder of MiniLM-L6's architecture with random weights (``seed``)."""
    from transformers import BertConfig, BertModel

    vocab = SPECIAL + list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'") + vocabulary
    vocab += [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    torch.manual_seed(seed)
    BertModel(BertConfig(vocab_size=len(vocab), pad_token_id=0, **MINILM)).save_pretrained(folder)
    files = {
        "tokenizer_config.json": {"do_lower_case": True, "tokenizer_class": "BertTokenizer", "model_max_length": 512,
                                  **dict(zip(("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"),
                                             SPECIAL))},
        "special_tokens_map.json": dict(zip(("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"),
                                            SPECIAL)),
        "sentence_bert_config.json": {"max_seq_length": 256, "do_lower_case": False},
        "modules.json": [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                         {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                         {"idx": 2, "name": "2", "path": "2_Normalize",
                          "type": "sentence_transformers.models.Normalize"}],
        "1_Pooling/config.json": {"word_embedding_dimension": MINILM["hidden_size"], "pooling_mode_mean_tokens": True,
                                  "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
                                  "pooling_mode_mean_sqrt_len_tokens": False},
    }
    (folder / "2_Normalize").mkdir(exist_ok=True)
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(content), encoding="utf-8")
    return folder


def best_rates(n: int, fns: dict, repeats: int) -> dict[str, float]:
    """Texts/second of each ``fn`` (it returns its vectors on the host): the best of ``repeats``
    runs, interleaved and in alternating order."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(repeats):
        for name in list(fns) if r % 2 == 0 else list(fns)[::-1]:
            started = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - started)
    return {name: n / min(t) for name, t in times.items()}


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def bench(folder: Path, sets: dict[str, list[str]], batch_sizes: list[int], device: torch.device,
          repeats: int) -> Iterator[dict]:
    """One row per batch size and set, each as soon as it is measured."""
    from sentence_transformers import SentenceTransformer

    library = SentenceTransformer(str(folder), device=str(device))
    for batch_size in batch_sizes:
        ours = {p: SentenceTransformerEncoder("minilm", str(folder), device=str(device), batch_size=batch_size,
                                              precision=p) for p in ("fp32", "bf16", "fp16")}
        for name, texts in sets.items():
            ids = [f"s{i}" for i in range(len(texts))]
            library.encode(texts[:batch_size], batch_size=batch_size)  # warm-up
            for encoder in ours.values():
                encoder.encode(ids[:batch_size], texts[:batch_size], "text_en")
            fns = {"encode": lambda: library.encode(texts, batch_size=batch_size, convert_to_numpy=True)}
            fns.update({p: (lambda e=e: e.encode(ids, texts, "text_en")) for p, e in ours.items()})
            rates = best_rates(len(texts), fns, repeats)
            reference = library.encode(texts, batch_size=batch_size, convert_to_numpy=True)
            fp32 = ours["fp32"].encode(ids, texts, "text_en")
            row = {"set": name, "n": len(texts), "batch_size": batch_size, "encode_per_s": rates["encode"],
                   "ours_per_s": rates["fp32"], "ratio": rates["fp32"] / rates["encode"],
                   "max_abs_diff": float(np.abs(fp32 - reference).max())}
            for p in ("bf16", "fp16"):
                cos = cosines(ours[p].encode(ids, texts, "text_en"), fp32)
                row.update({f"{p}_per_s": rates[p], f"{p}_cos_min": float(cos.min()), f"{p}_cos_mean": float(cos.mean())})
            encoder = ours["fp32"]
            tokenise = encoder.tokenise if encoder.pad_values is not None else encoder.preprocess
            row["tokenise_per_s"] = len(texts) / min(_seconds(lambda: tokenise(texts)) for _ in range(2))
            row["preprocess_per_s"] = len(texts) / min(_seconds(lambda: encoder.preprocess(texts)) for _ in range(2))
            row["path"] = "blocks" if encoder.pad_values is not None else "per batch"
            yield row


def _seconds(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=4000, help="texts of one sentence")
    parser.add_argument("--long-tail", type=int, default=2000, help="texts of 1-6 sentences")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--words", type=int, default=20000, help="synthetic vocabulary")
    parser.add_argument("--repeats", type=int, default=3)
    add_run_options(parser)
    args = parser.parse_args()
    device = device_of(args)
    vocabulary = lexicon(args.words)
    sets = {"short": sentences(args.short, vocabulary, 1), "long-tail": sentences(args.long_tail, vocabulary, 2, 6)}
    print(f"# extraction: MiniLM-L6 architecture, random weights; {machine(device)}; best of {args.repeats}")
    print("| set | texts | batch | encode /s | ours fp32 /s | ours / encode | max abs diff | bf16 /s (cos min) | "
          "fp16 /s (cos min) | tokenising alone /s (padded preprocess) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:  # each row printed as it comes: a run cut short keeps them
        for r in bench(write_model(Path(tmp) / "minilm", vocabulary), sets, args.batch_sizes, device, args.repeats):
            rows.append(r)
            print(f"| {r['set']} | {r['n']} | {r['batch_size']} | {r['encode_per_s']:,.0f} | {r['ours_per_s']:,.0f} | "
                  f"{r['ratio']:.2f}x | {r['max_abs_diff']:.1e} | {r['bf16_per_s']:,.0f} ({r['bf16_cos_min']:.5f}) | "
                  f"{r['fp16_per_s']:,.0f} ({r['fp16_cos_min']:.5f}) | {r['tokenise_per_s']:,.0f} "
                  f"({r['preprocess_per_s']:,.0f}) |", flush=True)
            save_json(args, {"device": str(device), "machine": machine(device), "rows": rows})
    paths = {r["path"] for r in rows}
    print(f"\nour tokenisation: {' and '.join(sorted(paths))} (blocks: unpadded, flat arrays, each batch padded in "
          "numpy; per batch: preprocess cannot give unpadded tokens here, each batch tokenised as it runs)")
    for r in rows:
        print(f"target: ours >= 1.5x encode, {r['set']}, batch {r['batch_size']} -> "
              f"{'met' if r['ratio'] >= 1.5 else 'NOT met'} ({r['ratio']:.2f}x)")
    save_json(args, {"device": str(device), "machine": machine(device), "rows": rows})


if __name__ == "__main__":
    main()
