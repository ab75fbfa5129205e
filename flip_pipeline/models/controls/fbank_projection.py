"""A speech control: a fixed random projection of a clip's filterbank statistics.

:class:`FbankProjection` decodes the clip as SONAR does (:func:`~flip_pipeline.models.audio.features.load_audio`:
mono float32 at 16 kHz), computes the same 80-bin log-mel filterbanks with fairseq2's
``WaveformToFbankConverter`` (25 ms window, 10 ms hop), takes their mean and standard
deviation over frames (160 values) and multiplies them by a fixed seeded Gaussian matrix.
Clips are decoded by ``audio_workers`` worker processes as for SONAR
(:mod:`~flip_pipeline.models.audio.frontend`).
It hears the acoustics only (loudness, pitch range, speaking rate, voice), never the
words, so it is a weak but honest floor for the speech views.

The filterbanks are not standardised per clip, unlike SONAR's input: standardising makes
every bin's mean 0 and standard deviation 1 over frames, which would give every clip the
same 160 statistics.

Bad audio (missing, empty, unreadable or too short) is handled as by
:class:`~flip_pipeline.models.sonar.embed.SonarEncoder`: it raises naming each row's id and
path, unless ``skip_bad_audio`` is set, when :meth:`FbankProjection.encode_skipping`
leaves those rows out and reports them to the embed stage.
"""

from __future__ import annotations

import importlib.metadata

import numpy as np

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import view_modality
from flip_pipeline.models.audio.bad_audio import bad_audio_error, encode_or_raise
from flip_pipeline.models.audio.features import MEL_BINS, AudioError, fbank_statistics
from flip_pipeline.models.audio.frontend import CLIPS_PER_TASK, AudioFrontEnd
from flip_pipeline.models.audio.frontend import audio_workers as audio_workers_of
from flip_pipeline.progress import advance

FEATURES = 2 * MEL_BINS  # per-bin mean and standard deviation over frames


class FbankProjection:
    """``embedding = [mean_t f_t, std_t f_t] · W`` for the log-mel frames ``f_t`` (80 bins)
    of a clip, with ``W ~ N(0, I/160)`` of shape ``(160, dim)`` drawn once from ``seed``.

    Args:
        name: config name (``encoders.<name>``).
        dim: embedding dimension.
        seed: seed of the projection matrix.
        skip_bad_audio: leave out rows whose audio is bad (see :meth:`encode_skipping`)
            instead of raising.
        audio_workers: processes that decode clips and compute their filterbanks (default:
            the job's CPUs; 0: in this process, on one background thread).
    """

    def __init__(self, name: str, dim: int, seed: int = 0, skip_bad_audio: bool = False,
                 audio_workers: int | None = None):
        self.name, self.dim, self.seed, self.skip_bad_audio = name, dim, seed, skip_bad_audio
        self.audio_workers = audio_workers_of(name, audio_workers)
        rng = np.random.default_rng(seed)
        self._projection = (rng.standard_normal((FEATURES, dim)) / np.sqrt(FEATURES)).astype(np.float32)

    def check_view(self, view: str) -> None:
        if view_modality(view) != "speech":
            raise FlipInputError(
                f"encoder {self.name!r} (fbank_projection) encodes speech views (audio paths) only, not {view!r}"
            )

    def features(self, path: str) -> np.ndarray:
        """``(160,)`` float32: per-bin mean then standard deviation of the clip's log-mel frames.

        Raises :class:`~flip_pipeline.models.audio.features.AudioError` for bad audio.
        """
        return fbank_statistics(path)

    def encode(self, ids: list[str], inputs: list[str], view: str) -> np.ndarray:
        """Embed one batch of clips: ``(n, dim)`` float32 in input order; bad audio raises
        even when ``skip_bad_audio`` is set (use :meth:`encode_skipping` to skip)."""
        return encode_or_raise(self, ids, inputs, view)

    def encode_skipping(self, ids: list[str], inputs: list[str], view: str) -> tuple[np.ndarray, dict[str, str]]:
        """Like :meth:`encode`, but rows with bad audio may be left out.

        Returns:
            ``(embeddings, skipped)``: float32 ``(n - len(skipped), dim)`` for the kept rows
            in input order, and ``{id: "path: reason"}`` for the rows left out (empty
            unless ``skip_bad_audio``; without it bad audio raises naming every such row).
        """
        self.check_view(view)
        if len(ids) != len(inputs):
            raise ValueError(f"{len(ids)} ids but {len(inputs)} inputs")
        rows, skipped = [], {}
        with AudioFrontEnd(self.audio_workers) as front:
            for row_id, path, result in zip(ids, inputs, front.map(fbank_statistics, inputs, CLIPS_PER_TASK)):
                if isinstance(result, AudioError):
                    skipped[row_id] = f"{path}: {result}"
                else:
                    rows.append(result)
                advance()  # the stage's progress bar, if one is open
        if skipped and not self.skip_bad_audio:
            raise bad_audio_error(self.name, view, skipped)
        features = np.asarray(rows, dtype=np.float32).reshape(len(rows), FEATURES)
        return features @ self._projection, skipped

    def provenance(self) -> dict[str, str]:
        return {
            "model_id": "control:fbank_projection",
            "revision": f"seed={self.seed}",
            "normalisation": "none",
            "features": f"log-mel {MEL_BINS} bins (fairseq2 WaveformToFbankConverter), mean and std over frames",
            "fairseq2": importlib.metadata.version("fairseq2"),
        }
