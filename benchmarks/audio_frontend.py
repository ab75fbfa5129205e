"""Clips per second of our speech front end against sonar-space's, on the same clips and CPUs.

The clips are espeak-ng speech of distinct Tatoeba English sentences (1–6 s), written as
16 kHz WAV and 16 kHz MP3 (sonar-space's filterbank converter accepts 16 kHz only), and as
espeak-ng's own 22.05 kHz WAV, which only our front end reads (it resamples).

* ours: :meth:`SonarEncoder.encode` with ``audio_workers`` 0 (in this process, one
  background thread: the serial front end), 1 and N worker processes (default N: the
  job's CPUs). A call (in the pipeline: one shard, 50k rows) starts its pool, reads every
  header, sorts by length and decodes, resamples and computes filterbanks in the workers
  while the model runs. The pool's start is inside every timing and also printed alone:
  forked from the fork server (started once per process, outside the timings), each
  worker imports the main script, as every spawned or fork-server worker does.
* sonar-space: ``SpeechToEmbeddingModelPipeline.predict`` (a fairseq2 data pipeline: read,
  decode, filterbanks with ``n_parallel`` parallel calls, bucket, collate, prefetch 2
  batches) at its default parallelism (``n_parallel=1``; each clip's filterbanks also use
  torch's intra-op threads, all CPUs by default), at ``n_parallel=N``, and at
  ``n_parallel=1`` with one torch thread (to show where its speed comes from).

Both feed the same "model", :class:`MeanPool` (each clip's mean filterbank frame, no
parameters), so that the front end alone is timed: header reads, decoding, resampling,
filterbanks, batching and padding. Same batch size (``--batch-size``) on both sides; each
rate is the best of ``--repeats`` runs, interleaved in alternating order. The vectors of
both sides are compared on SONAR's speech encoder class at toy size (1 conformer layer,
64-d, random weights; cosine: sonar-space batches in input order, ours by length, and it
decodes MP3 with another libsndfile build, so they agree up to rounding).

Last, the per-clip work alone (decode, filterbanks; one torch thread) in 1 and N independent
processes started together: how this machine's CPUs scale on it, the ceiling of any front
end, and the 1.5x target as a share of that ceiling.

Run: ``python benchmarks/audio_frontend.py`` (a few minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import soundfile

from flip_pipeline.device import job_cpus
from flip_pipeline.models.audio.features import audio_duration, load_audio, sonar_fbank
from flip_pipeline.models.audio.frontend import AudioFrontEnd

REPO = Path(__file__).resolve().parent.parent
CARD = "sonar_speech_encoder_eng"


def write_clips(folder: Path, n: int) -> dict[str, list[str]]:
    """``{"wav16": paths, "mp3-16": paths, "wav22": paths}`` of ``n`` spoken sentences."""
    from embed import english_sentences
    from helpers.sonar import synthesize

    sets: dict[str, list[str]] = {"wav16": [], "mp3-16": [], "wav22": []}
    for i, text in enumerate(english_sentences(n, seed=2)):
        native = synthesize(text, folder / f"c{i:04d}-22k.wav")
        wave = load_audio(str(native))
        soundfile.write(folder / f"c{i:04d}.wav", wave, 16000)
        soundfile.write(folder / f"c{i:04d}.mp3", wave, 16000, format="MP3")
        sets["wav22"].append(str(native))
        sets["wav16"].append(str(folder / f"c{i:04d}.wav"))
        sets["mp3-16"].append(str(folder / f"c{i:04d}.mp3"))
    return sets


def mean_pool():
    """A parameterless "speech encoder": each clip's mean filterbank frame over its own
    frames (padding left out), ``(batch, 80)``; called as SONAR's, ``model(seqs, layout)``.
    It stands for a model on an accelerator, so it computes in numpy: a torch operation on
    the host would wake torch's OpenMP team, whose threads spin on the CPUs between
    batches and take them from either side's front end."""
    import torch

    class MeanPool(torch.nn.Module):
        def forward(self, seqs, layout):
            x, lengths = seqs.numpy(), np.asarray(layout.seq_lens)
            mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
            pooled = np.einsum("btf,bt->bf", x, mask.astype(x.dtype)) / lengths[:, None]
            return SimpleNamespace(sentence_embeddings=torch.from_numpy(pooled.astype(np.float32)))

    return MeanPool().eval()


def _filterbank_loop(paths: list[str], barrier, results) -> None:
    """One independent process of :func:`independent_rate`: SONAR's per-clip work (decode,
    filterbanks) on one torch thread over ``paths``, timed from the shared start."""
    import torch

    torch.set_num_threads(1)
    for path in paths[:8]:
        sonar_fbank(path)  # warm caches and the converter
    barrier.wait()
    start = time.perf_counter()
    for path in paths:
        sonar_fbank(path)
    results.put(time.perf_counter() - start)


def independent_rate(paths: list[str], processes: int) -> float:
    """Clips/s of ``processes`` processes that each compute every clip's filterbanks on
    their own, started together, with no front end between them: what this machine's CPUs
    give the per-clip work in parallel (the ceiling of any front end, ours or sonar-space's)."""
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    barrier, results = context.Barrier(processes), context.SimpleQueue()
    workers = [context.Process(target=_filterbank_loop, args=(paths, barrier, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    seconds = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    return processes * len(paths) / max(seconds)


def pool_start_seconds(workers: int, path: str) -> float:
    """Seconds from opening a front end of ``workers`` processes to its first result and back."""
    start = time.perf_counter()
    with AudioFrontEnd(workers) as front:
        list(front.map(audio_duration, [path] * workers))
    return time.perf_counter() - start


def one_thread(fn):
    """``fn()`` with torch's intra-op threads set to 1 (sonar-space's filterbanks use them)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(threads)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu"],
                        help="cpu only: the speech front end decodes and computes filterbanks in CPU worker processes")
    parser.add_argument("--clips", type=int, default=240)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=job_cpus(), help="N (default: the job's CPUs)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--passes", type=int, default=4,
                        help="each call takes the clip list this many times (a pipeline call is a 50k-row shard)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sys.path.insert(0, str(REPO / "tests"))  # the offline SONAR stand-ins live with the tests
    sys.path.insert(0, str(REPO / "benchmarks"))
    import torch
    from embed import best_rates
    from helpers.sonar import espeak_available, small_sonar_speech_encoder
    from sonar.inference_pipelines.speech import SpeechToEmbeddingModelPipeline

    from flip_pipeline.models.sonar.embed import SonarEncoder

    if not espeak_available():
        sys.exit("espeak-ng is missing: apt-get install espeak-ng")

    n_workers = args.workers

    def pipelines(model):
        ours = {w: SonarEncoder("sonar", speech_batch_size=args.batch_size, progress=False, audio_workers=w,
                                speech_models={CARD: model}) for w in sorted({0, 1, n_workers})}
        return ours, SpeechToEmbeddingModelPipeline(encoder=model)

    ours, sonar = pipelines(mean_pool())
    toy_ours, toy_sonar = pipelines(small_sonar_speech_encoder(layers=1))
    load = os.getloadavg()[0]
    print(f"{len(os.sched_getaffinity(0))} CPUs (load average {load:.1f} at start: the machine is shared), "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), {args.clips} clips, "
          f"batch {args.batch_size}, best of {args.repeats}; front end only (model: a mean over frames)")
    rows, ceilings = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        sets = write_clips(Path(tmp), args.clips)
        seconds = sum(soundfile.info(p).duration for p in sets["wav16"])
        sets = {fmt: paths * args.passes for fmt, paths in sets.items()}
        ids = [f"c{i}" for i in range(len(sets["wav16"]))]
        print(f"{seconds:.0f} s of audio ({seconds / args.clips:.1f} s per clip), {args.passes} passes per call")
        ours[n_workers].encode(ids[:2], sets["wav16"][:2], "speech_en")  # starts the fork server (once)
        starts = {w: min(pool_start_seconds(w, sets["wav16"][0]) for _ in range(args.repeats)) for w in ours if w}
        print("pool start (in every timing of ours): " + ", ".join(f"{w} workers {s:.2f} s" for w, s in starts.items()))
        for fmt, paths in sets.items():
            fns = {f"ours, {w} workers" if w else "ours, serial (0 workers)":
                   (lambda enc=enc, paths=paths: enc.encode(ids, paths, "speech_en")) for w, enc in ours.items()}
            if fmt != "wav22":
                for n_parallel in sorted({1, n_workers}):
                    label = f"sonar-space n_parallel={n_parallel}" + (" (default)" if n_parallel == 1 else "")
                    fns[label] = (lambda n=n_parallel, paths=paths: sonar.predict(
                        paths, batch_size=args.batch_size, n_parallel=n))
                fns["sonar-space n_parallel=1, torch 1 thread"] = lambda paths=paths: one_thread(
                    lambda: sonar.predict(paths, batch_size=args.batch_size))
            rates = best_rates(len(ids), fns, args.repeats)
            agree = "—"
            if fmt != "wav22":
                ceilings[fmt] = {n: max(independent_rate(paths, n) for _ in range(args.repeats))
                                 for n in sorted({1, n_workers})}
                mine = toy_ours[n_workers].encode(ids[: args.clips], paths[: args.clips], "speech_en")
                theirs = toy_sonar.predict(paths[: args.clips], batch_size=args.batch_size).numpy()
                agree = f"{cosines(mine, theirs).min():.5f}"
            rows.append((fmt, rates, agree))
    print_table(rows, n_workers)
    print_ceilings(rows, ceilings, n_workers)


def print_table(rows, n_workers: int) -> None:
    header = ("clips", "front end", "clips/s", "vs sonar-space default", f"vs sonar-space n_parallel={n_workers}",
              "min cosine ours/sonar-space (toy SONAR)")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for fmt, rates, agree in rows:
        default = rates.get("sonar-space n_parallel=1 (default)")
        same = rates.get(f"sonar-space n_parallel={n_workers}" + (" (default)" if n_workers == 1 else ""))
        for name, rate in rates.items():
            vs_default = "—" if default is None else f"{rate / default:.2f}x"
            vs_same = "—" if same is None else f"{rate / same:.2f}x"
            print(f"| {fmt} | {name} | {rate:.1f} | {vs_default} | {vs_same} | {agree} |")


def print_ceilings(rows, ceilings: dict[str, dict[int, float]], n_workers: int) -> None:
    """The machine's own scaling on the per-clip work, and the 1.5x target against it."""
    print("\nThis machine on the per-clip work alone (independent processes, one torch thread each, best of runs):")
    for fmt, rates, _ in rows:
        if fmt not in ceilings:
            continue
        one, many = ceilings[fmt][1], ceilings[fmt][n_workers]
        target = 1.5 * rates["sonar-space n_parallel=1 (default)"]
        ours = rates[f"ours, {n_workers} workers"]
        print(f"  {fmt}: 1 process {one:.0f} clips/s, {n_workers} processes {many:.0f} clips/s ({many / one:.2f}x); "
              f"ours with {n_workers} workers {ours:.0f} = {ours / many:.0%} of that; "
              f"target 1.5x sonar-space default = {target:.0f} clips/s = {target / many:.0%} of that "
              f"-> {'met' if ours >= target else 'not met'}")


if __name__ == "__main__":
    main()
