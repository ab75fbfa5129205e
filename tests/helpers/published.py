"""The published FLiP data layout (``{split}_text_embs.npy`` ... as in the published
``configs/datasets.yaml``), written with random embeddings and real Tatoeba sentences."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZES = {"train": 40, "dev": 10, "test": 12}
DIM = 16


def write_published(root: Path, tatoeba_dir: Path, sizes: dict[str, int] = SIZES, dim: int = DIM) -> Path:
    """Write one language folder under ``root``: text embeddings, speech embeddings in float16
    (another dtype, same rows), their cosine as the scores, and transcripts with an empty
    line (not a row, as in the published loader) at line 4 of every split."""
    root.mkdir(parents=True, exist_ok=True)
    texts = (tatoeba_dir / "tatoeba.fra-eng.eng").read_text(encoding="utf-8").split("\n")
    rng = np.random.default_rng(0)
    offset = 0
    for split, n in sizes.items():
        text = rng.normal(size=(n, dim)).astype(np.float32)
        speech = (text + 0.3 * rng.normal(size=(n, dim))).astype(np.float16)
        s32 = speech.astype(np.float32)
        sim = np.einsum("ij,ij->i", text, s32) / (np.linalg.norm(text, axis=1) * np.linalg.norm(s32, axis=1))
        np.save(root / f"{split}_text_embs.npy", text)
        np.save(root / f"{split}_speech_embs.npy", speech)
        np.save(root / f"{split}_sim_scores.npy", sim.astype(np.float32))
        lines = texts[offset : offset + n]
        offset += n
        lines.insert(3, "")
        (root / f"{split}_transcript.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
