"""Similarity stage cost on the thesis's full grid, and what the honesty parts add.

The grid: 30 languages, 25 layer pairs, n = 251 sentences, d = 1024, four analyses —
cross-modal 30 comparisons per layer, text–text and speech–speech triangles 435 each,
speech–text matrix 900: 1,800 per layer, 45,000 in all, each with every method.

Timed on Gaussian inputs, on one fraction, and extrapolated:
  * one comparison (``compare``, all four methods) with every count at zero, and with
    each of chance (10 draws), permutations (100) and bootstrap (100) alone, then all at
    their defaults. Chance levels depend only on ``(method, n, dims)`` and are cached; on
    Gaussian inputs every comparison has the same dims, so the table gives the chance
    cost both without reuse (every comparison a new size: the worst case) and with it.
    The bootstrap is left out at these sizes (n < min_ratio × dims, see
    ``flip_pipeline.similarity.null``), so the defaults row has none; its own row times it
    with ``min_ratio=0`` to show what it would cost.
  * the stage itself (``similarity_stage``, reading layer shards) on ``--languages``
    languages × ``--layers`` layers with counts at zero and each set at its own dimension,
    against the same comparisons in memory: the reading overhead; and what the shared
    cross-lingual dimensions (thesis Table A.7, ``stages/shared_dimensions.py``) of the same
    folders cost, one SVD per distinct set of every cross-lingual analysis.

Times are CPU seconds of this process (``time.process_time``) with single-threaded BLAS,
so a busy shared machine does not inflate them; "core-hours" = seconds × 45,000 / 3600.

    python benchmarks/similarity.py            # OPENBLAS_NUM_THREADS=1 unless set
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: one core per process, as a SLURM array runs it

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from flip_pipeline.atomic import write_json  # noqa: E402
from flip_pipeline.formats.paths import MANIFEST, layer_dir, layers_dir  # noqa: E402
from flip_pipeline.formats.shards import shard_name, write_manifest, write_shard  # noqa: E402
from flip_pipeline.similarity.analysis_settings import SimilaritySettings  # noqa: E402
from flip_pipeline.similarity.compare import ChanceCache, compare  # noqa: E402
from flip_pipeline.stages.shared_dimensions import dimension_table  # noqa: E402
from flip_pipeline.stages.similarity import similarity_stage  # noqa: E402

LANGUAGES, LAYERS, N, DIM = 30, 25, 251, 1024
PER_LAYER = {"cross_modal": LANGUAGES, "cross_lingual_text": LANGUAGES * (LANGUAGES - 1) // 2,
             "cross_lingual_speech": LANGUAGES * (LANGUAGES - 1) // 2, "cross_lingual_speech_text": LANGUAGES**2}
GRID = sum(PER_LAYER.values()) * LAYERS
ZERO = dict(chance_draws=0, permutations=0, bootstrap=0)


def per_comparison(settings: SimilaritySettings, reps: int, rng: np.random.Generator, reuse_chance: bool) -> float:
    """Mean seconds of one ``compare`` of two Gaussian (N, DIM) sets."""
    cache = ChanceCache()
    compare(rng.standard_normal((N, DIM)), rng.standard_normal((N, DIM)), settings, chance_cache=cache)  # warm-up
    total = 0.0
    for _ in range(reps):
        a, b = rng.standard_normal((N, DIM)), rng.standard_normal((N, DIM))
        start = time.process_time()
        compare(a, b, settings, chance_cache=cache if reuse_chance else ChanceCache())
        total += time.process_time() - start
    return total / reps


def stage_overhead(languages: int, layers: int, rng: np.random.Generator) -> tuple[float, float, int, float, int]:
    """Seconds of the stage's cross-lingual speech–text analysis on ``languages × layers``
    Gaussian layer folders (counts at zero, per-set dimensions), of the same comparisons in
    memory, the comparisons, and the seconds and sets of the folders' shared dimensions."""
    names = [f"l{i:02d}" for i in range(languages)]
    ids = [f"{i:05d}" for i in range(N)]
    with tempfile.TemporaryDirectory() as tmp:
        views, sets = {}, {}
        for language in names:
            views[language] = {}
            for modality in ("text", "speech"):
                view = f"{modality}_{language}"
                for j in range(layers):
                    x = rng.standard_normal((N, DIM)).astype(np.float32)
                    sets[language, modality, j] = x
                    folder = Path(layer_dir(tmp, "bench", "fleurs", "test", view, f"layer_{j:02d}"))
                    write_shard(folder / shard_name(0), ids, x, {"encoder": "bench", "view": view, "dim": DIM})
                    write_manifest(folder, [(shard_name(0), N)], {"encoder": "bench", "view": view, "dim": DIM})
                views[language][modality] = layers_dir(tmp, "bench", "fleurs", "test", view)
                write_json(Path(views[language][modality]) / MANIFEST, {"layers": [f"layer_{j:02d}" for j in range(layers)]})
        start = time.process_time()
        frame = similarity_stage("bench", "cross_lingual_speech_text", views, dict.fromkeys(names, "high"),
                                    {**ZERO, "cross_lingual_dimensions": "per_set"}, Path(tmp) / "out.parquet")
        staged = time.process_time() - start
        start = time.process_time()
        dims = dimension_table("bench", views, SimilaritySettings(**ZERO))
        shared = time.process_time() - start
    settings = SimilaritySettings(**ZERO)
    start = time.process_time()
    for j in range(layers):
        for la in names:
            for lb in names:
                compare(sets[la, "speech", j], sets[lb, "text", j], settings)
    return staged, time.process_time() - start, len(frame) // len(settings.methods), shared, int(dims.sets.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu"],
                        help="cpu only: the similarity stage computes in numpy on the CPU")
    parser.add_argument("--reps", type=int, default=3, help="comparisons timed per row")
    parser.add_argument("--languages", type=int, default=3, help="languages of the stage-overhead run")
    parser.add_argument("--layers", type=int, default=2, help="layers of the stage-overhead run")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    defaults = SimilaritySettings()
    rows = [
        ("all counts zero (scores only)", {**ZERO}, True),
        (f"chance only ({defaults.chance_draws} draws), no reuse", {**ZERO, "chance_draws": defaults.chance_draws},
         False),
        (f"chance only ({defaults.chance_draws} draws), reused", {**ZERO, "chance_draws": defaults.chance_draws},
         True),
        (f"permutations only ({defaults.permutations})", {**ZERO, "permutations": defaults.permutations}, True),
        (f"bootstrap only ({defaults.bootstrap}, min_ratio 0)", {**ZERO, "bootstrap": defaults.bootstrap,
                                                                 "min_ratio": 0}, True),
        ("defaults, chance without reuse", {}, False),
        ("defaults, chance reused", {}, True),
    ]
    print(f"grid: {LANGUAGES} languages × {LAYERS} layers, n {N}, d {DIM}: {GRID:,} comparisons × 4 methods; "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, {args.reps} timed comparisons per row")
    print(f"{'configuration':<44} {'CPU s / comp.':>14} {'grid, core-hours':>17}")
    for label, overrides, reuse in rows:
        seconds = per_comparison(SimilaritySettings(**overrides), args.reps, rng, reuse)
        print(f"{label:<44} {seconds:>14.3f} {seconds * GRID / 3600:>17.1f}")
    staged, in_memory, count, shared, sets = stage_overhead(args.languages, args.layers, rng)
    print(f"stage on {args.languages} languages × {args.layers} layers (speech–text, {count} comparisons, counts "
          f"zero): {staged:.2f} s, in memory {in_memory:.2f} s: reading adds {staged / in_memory - 1:+.0%}")
    print(f"shared cross-lingual dimensions of the same folders: {shared:.2f} s for {sets} distinct sets "
          f"({shared / max(sets, 1):.3f} s per set)")


if __name__ == "__main__":
    main()
