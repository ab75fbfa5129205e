"""SONAR text and speech encoders (sonar-space on fairseq2) as one :class:`Encoder`.

SONAR maps text in 200 languages and speech in about 40 into one 1024-d space, so one
config entry serves every view: ``text_xx`` goes through the text encoder with the NLLB
language token of ``xx`` (``en`` → ``eng_Latn``), ``speech_xx`` through the speech encoder
of ``xx`` (``sonar_speech_encoder_eng``). Models are fairseq2 asset cards, downloaded and
cached by fairseq2 on first use and loaded only when a view needs them.

Each :meth:`SonarEncoder.encode` call sorts its rows by length (tokens, or audio
duration), runs batches of similar length, and returns the vectors in input order.
Texts are tokenised in blocks of ``text_block_size`` (default :data:`TEXT_BLOCK_SIZE`): the
call's texts are cut into blocks longest first by character count, and each block is sorted
by token count and cut into batches. With ``prefetch`` (default on) the next block is
tokenised, and the next batch padded and copied to the device, on threads while the model
runs the current batch, so the device waits only for the first block's tokens.
Audio is decoded with libsndfile (WAV, FLAC, OGG, MP3), mixed down to mono, resampled to
16 kHz, and turned into the 80-bin standardised filterbanks the speech encoders were
trained on (:mod:`~flip_pipeline.models.audio.features`), by ``audio_workers`` worker
processes (default: the job's CPUs) that work ahead of the batch the model runs
(:mod:`~flip_pipeline.models.audio.frontend`).

Audio that is missing, unreadable, empty or too long raises
:class:`~flip_pipeline.errors.FlipInputError` naming every such row's id and path, unless
``skip_bad_audio`` is set: then :meth:`SonarEncoder.encode_skipping` leaves those rows
out and reports them, and the embed stage lists them in the manifest.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import view_language, view_modality
from flip_pipeline.models.audio.bad_audio import bad_audio_error, describe, encode_or_raise
from flip_pipeline.models.audio.features import FBANK_FRAMES_PER_SECOND, AudioError, audio_duration, sonar_fbank
from flip_pipeline.models.audio.frontend import CLIPS_PER_TASK, AudioFrontEnd
from flip_pipeline.models.audio.frontend import audio_workers as audio_workers_of
from flip_pipeline.models.batching import cpu_token_budget, length_sorted_batches, prefetched, to_device
from flip_pipeline.models.precision import model_dtype
from flip_pipeline.models.sonar.languages import (
    DEFAULT_SPEECH_ENCODER,
    DEFAULT_TEXT_ENCODER,
    speech_language,
    text_code,
    view_problem,
)
from flip_pipeline.progress import advance

log = logging.getLogger(__name__)

DIM = 1024
#: Padded tokens (rows × longest) per text batch on CPU unless ``max_tokens`` is given:
#: on 2 AVX-512 cores 256 beat 128, 512 and fixed batches of 4–32 sentences.
CPU_TEXT_MAX_TOKENS = 256
#: Texts tokenised together (``text_block_size``): large enough that sorting a block by
#: token count pads about as little as sorting the whole call (blocks are already cut by
#: character count), small enough that the first block's tokenisation, the one the device
#: waits for, is short (a shard chunk is up to tens of thousands of rows).
TEXT_BLOCK_SIZE = 4096



class SonarEncoder:
    """SONAR text (``text_xx``) and speech (``speech_xx``) views in one 1024-d space.

    Args:
        name: config name (``encoders.<name>``).
        text_encoder: fairseq2 asset card of the text encoder.
        tokenizer: asset card of its tokenizer (default: the text encoder's card).
        speech_encoder: asset card of the speech encoders, either a template with
            ``{iso3}`` (the first part of the NLLB code: ``eng``, ``deu``) or a mapping
            view language → card.
        languages: view language → FLORES-200 (NLLB) code, overriding
            :data:`~flip_pipeline.models.sonar.languages.LANGUAGE_CODES`.
        device: torch device.
        precision: ``fp32``, ``fp16`` or ``bf16`` weights and activations (outputs are float32).
        batch_size: most sentences per text batch.
        max_tokens: most ``rows × longest`` tokens per text batch (default: none on GPU,
            :data:`CPU_TEXT_MAX_TOKENS` on CPU).
        text_block_size: texts tokenised, sorted by token count and cut into batches together
            (default :data:`TEXT_BLOCK_SIZE`); a call of at most this many texts is batched as one.
        prefetch: tokenise the next text block, and pad and copy the next text batch to the
            device, on threads while the model runs the current batch (default on); off, each
            block is tokenised and each batch padded in line. The batches, and so the vectors,
            are the same either way.
        speech_batch_size: most clips per speech batch.
        max_audio_seconds: if set, most ``clips × longest`` seconds of audio per speech batch.
        max_seq_len: truncate text to this many tokens (default: the model's limit).
        max_audio_s: longer clips are bad input (the speech encoders' positions end near 80 s).
        skip_bad_audio: leave out rows whose audio is missing, unreadable, empty or too long
            (see :meth:`encode_skipping`) instead of raising.
        audio_workers: processes that decode clips and compute their filterbanks (default:
            the job's CPUs; 0: in this process, on one background thread).
        progress: report each batch to the stage's progress bar (:mod:`flip_pipeline.progress`).
        text_model, text_tokenizer, speech_models: already built models to use instead of
            loading the cards (``speech_models`` maps card name → model); for callers that
            build models themselves, e.g. from an architecture config.
    """

    dim = DIM

    def __init__(
        self,
        name: str,
        text_encoder: str = DEFAULT_TEXT_ENCODER,
        tokenizer: str | None = None,
        speech_encoder: str | Mapping[str, str] = DEFAULT_SPEECH_ENCODER,
        languages: Mapping[str, str] | None = None,
        device: str | torch.device = "cpu",
        precision: str = "fp32",
        batch_size: int = 32,
        max_tokens: int | None = None,
        speech_batch_size: int = 8,
        max_audio_seconds: float | None = None,
        max_seq_len: int | None = None,
        max_audio_s: float = 80.0,
        skip_bad_audio: bool = False,
        progress: bool = True,
        audio_workers: int | None = None,
        text_block_size: int = TEXT_BLOCK_SIZE,
        prefetch: bool = True,
        *,
        text_model: torch.nn.Module | None = None,
        text_tokenizer: Any = None,
        speech_models: Mapping[str, torch.nn.Module] | None = None,
    ):
        dtype = model_dtype(name, precision)
        if text_block_size < 1:
            raise FlipInputError(f"encoders.{name}.text_block_size: {text_block_size!r} is not a positive integer")
        self.name = name
        self.text_card, self.tokenizer_card = text_encoder, tokenizer or text_encoder
        self.speech_encoder = speech_encoder
        self.languages = dict(languages or {})  # overrides of sonar_languages.text_code
        self.device = torch.device(device)
        max_tokens = cpu_token_budget(max_tokens, self.device, CPU_TEXT_MAX_TOKENS)
        self.precision, self.dtype = precision, dtype
        self.batch_size, self.max_tokens = batch_size, max_tokens
        self.speech_batch_size, self.max_audio_seconds = speech_batch_size, max_audio_seconds
        self.max_seq_len, self.max_audio_s = max_seq_len, max_audio_s
        self.skip_bad_audio, self.progress = skip_bad_audio, progress
        self.text_block_size, self.prefetch = text_block_size, prefetch
        self.audio_workers = audio_workers_of(name, audio_workers)
        self._text_model = self._prepare(text_model) if text_model is not None else None
        self._tokenizer = text_tokenizer
        self._speech_models = {card: self._prepare(m) for card, m in (speech_models or {}).items()}
        self._injected = text_model is not None or bool(speech_models)
        log.info(
            "encoder %s: SONAR on %s, %s, text batch %d%s, speech batch %d, %d audio workers, skip bad audio: %s",
            name, self.device, precision, batch_size, f" / {max_tokens} tokens" if max_tokens else "",
            speech_batch_size, self.audio_workers, skip_bad_audio,
        )

    # ----------------------------------------------------------------- languages and cards
    def nllb_code(self, view: str) -> str:
        code = text_code(view_language(view), self.languages)
        if code is None:
            raise FlipInputError(f"encoder {self.name!r}: {view_problem({'languages': self.languages}, view, self.name)}")
        return code

    def speech_card(self, view: str) -> str:
        if isinstance(self.speech_encoder, Mapping):
            card = self.speech_encoder.get(view_language(view))
            if card is None:
                raise FlipInputError(f"encoder {self.name!r}: no speech encoder for view {view!r} in speech_encoder")
            return card
        return self.speech_encoder.format(iso3=speech_language(self.nllb_code(view)), lang=view_language(view))

    def check_view(self, view: str) -> None:
        modality = view_modality(view)
        if modality not in ("text", "speech"):
            raise FlipInputError(f"encoder {self.name!r} (sonar): unknown modality of view {view!r}")
        problem = view_problem(self.spec(), view, self.name)
        if problem is not None:
            raise FlipInputError(f"encoder {self.name!r}: {problem}")
        if modality == "speech":
            card = self.speech_card(view)
            if card not in self._speech_models:
                from sonar.models.sonar_speech import get_sonar_speech_encoder_hub

                _check_card(get_sonar_speech_encoder_hub(), card, f"encoders.{self.name}.speech_encoder")
        elif self._text_model is None:
            from sonar.models.sonar_text import get_sonar_text_encoder_hub

            _check_card(get_sonar_text_encoder_hub(), self.text_card, f"encoders.{self.name}.text_encoder")

    def spec(self) -> dict[str, Any]:
        """The config keys :func:`~flip_pipeline.models.sonar.languages.view_problem` reads."""
        spec: dict[str, Any] = {"languages": self.languages, "text_encoder": self.text_card,
                                "speech_encoder": self.speech_encoder}
        if self.tokenizer_card != self.text_card:
            spec["tokenizer"] = self.tokenizer_card
        return spec

    # ----------------------------------------------------------------- models
    def _prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        return model.to(device=self.device, dtype=self.dtype).eval()

    def _text(self) -> tuple[torch.nn.Module, Any]:
        if self._text_model is None:
            from sonar.models.sonar_text import get_sonar_text_encoder_hub

            log.info("loading SONAR text encoder %s on %s (%s)", self.text_card, self.device, self.precision)
            model = get_sonar_text_encoder_hub().load_model(self.text_card, device=self.device, dtype=self.dtype)
            self._text_model = model.eval()
        if self._tokenizer is None:
            from fairseq2.data.tokenizers import load_tokenizer

            self._tokenizer = load_tokenizer(self.tokenizer_card)
        return self._text_model, self._tokenizer

    def _speech(self, card: str) -> torch.nn.Module:
        model = self._speech_models.get(card)
        if model is None:
            from sonar.models.sonar_speech import get_sonar_speech_encoder_hub

            log.info("loading SONAR speech encoder %s on %s (%s)", card, self.device, self.precision)
            model = get_sonar_speech_encoder_hub().load_model(card, device=self.device, dtype=self.dtype).eval()
            self._speech_models[card] = model
        return model

    # ----------------------------------------------------------------- encoding
    def encode(self, ids: list[str], inputs: list[str], view: str) -> np.ndarray:
        """Embed one batch: ``(n, 1024)`` float32 in input order; bad audio raises even
        when ``skip_bad_audio`` is set (use :meth:`encode_skipping` to skip)."""
        return encode_or_raise(self, ids, inputs, view)

    def encode_skipping(self, ids: list[str], inputs: list[str], view: str) -> tuple[np.ndarray, dict[str, str]]:
        """Like :meth:`encode`, but rows with bad audio may be left out.

        Returns:
            ``(embeddings, skipped)``: float32 ``(n - len(skipped), 1024)`` for the kept rows
            in input order, and ``{id: "path: reason"}`` for the rows left out (always
            empty for text views, or unless ``skip_bad_audio``).
        """
        self.check_view(view)
        if len(ids) != len(inputs):
            raise ValueError(f"{len(ids)} ids but {len(inputs)} inputs")
        with torch.inference_mode():
            if view_modality(view) == "text":
                return self._encode_text(inputs, self.nllb_code(view)), {}
            return self._encode_speech(ids, inputs, view)

    def _advance(self, rows: int) -> None:
        if self.progress:
            advance(rows)

    def _encode_text(self, texts: list[str], lang: str) -> np.ndarray:
        model, tokenizer = self._text()
        token_encoder = tokenizer.create_encoder(lang=lang, mode="source")
        limit = self.max_seq_len or _model_max_seq_len(model)
        pad_idx = tokenizer.vocab_info.pad_idx or 0
        ahead = prefetched if self.prefetch else map  # the next item prepared on a thread, or in line
        truncated = 0  # texts cut to ``limit`` tokens, over all blocks (one warning per call)

        def tokenise(rows: np.ndarray) -> tuple[np.ndarray, list[torch.Tensor], int]:
            seqs = [token_encoder(texts[row]) for row in rows]
            cut = 0 if limit is None else sum(1 for s in seqs if len(s) > limit)
            return rows, [s[:limit] for s in seqs] if cut else seqs, cut

        def batches():
            nonlocal truncated
            # blocks longest first by characters, each in input order (one block: the whole call's batching)
            blocks = [np.sort(rows) for rows in length_sorted_batches([len(t) for t in texts], self.text_block_size)]
            for rows, seqs, cut in ahead(tokenise, blocks):
                truncated += cut
                for batch in length_sorted_batches([len(s) for s in seqs], self.batch_size, self.max_tokens):
                    yield rows[batch], [seqs[i] for i in batch]

        def pad(batch: tuple[np.ndarray, list[torch.Tensor]]):
            return batch[0], self._pad(batch[1], pad_idx, 1)

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows, padded in ahead(pad, batches()):
            out = self._store(out, rows, self._run(model, *padded))
            self._advance(len(rows))
        if truncated:
            log.warning("%d of %d texts truncated to %d tokens", truncated, len(texts), limit)
        return out

    def _store(self, out: np.ndarray, rows, vectors: np.ndarray) -> np.ndarray:
        """``out[rows] = vectors``; a model of another width than 1024 (an injected one) sets ``dim``."""
        if vectors.shape[1] != out.shape[1]:
            self.dim = vectors.shape[1]
            out = np.zeros((len(out), self.dim), dtype=np.float32)
        out[rows] = vectors
        return out

    def _pad(self, seqs: list[np.ndarray | torch.Tensor], pad_value: int, pad_to_multiple: int):
        """``seqs`` (arrays or CPU tensors, each ``(length, *features)``) padded with
        ``pad_value`` into one batch ``(n, width, *features)``, ``width`` the longest length
        rounded up to ``pad_to_multiple``, on the device (in the model's dtype if floating; to a
        GPU through pinned memory, the host not waiting for the copy), and its fairseq2 ``BatchLayout``.

        Built in numpy: no torch operation on the host, so no OpenMP team wakes and spins
        there between batches (spinning took ~0.8 of this process's CPU from the audio
        workers on 2 cores, ``benchmarks/audio_frontend.py``)."""
        from fairseq2.nn import BatchLayout

        arrays = [np.asarray(seq) for seq in seqs]
        lengths = [len(a) for a in arrays]
        width = -(-max(lengths) // pad_to_multiple) * pad_to_multiple
        padded = np.full((len(arrays), width, *arrays[0].shape[1:]), pad_value, dtype=arrays[0].dtype)
        for row, a in enumerate(arrays):
            padded[row, : len(a)] = a
        batch = torch.from_numpy(padded)
        batch = to_device(batch, self.device, self.dtype if batch.is_floating_point() else batch.dtype)
        return batch, BatchLayout.of(batch, lengths)

    def _run(self, model: torch.nn.Module, padded: torch.Tensor, layout) -> np.ndarray:
        """Sentence embeddings of one padded batch, float32 ``(rows, dim)``."""
        return model(padded, layout).sentence_embeddings.float().cpu().numpy()

    def _forward(self, model: torch.nn.Module, seqs: list[np.ndarray | torch.Tensor], pad_value: int,
                 pad_to_multiple: int):
        return self._run(model, *self._pad(seqs, pad_value, pad_to_multiple))

    def _encode_speech(self, ids: list[str], paths: list[str], view: str) -> tuple[np.ndarray, dict[str, str]]:
        model = self._speech(self.speech_card(view))
        # the next batch is being prepared while the model runs one (and the front end keeps
        # two tasks per worker in flight on its own)
        with AudioFrontEnd(self.audio_workers, 2 * self.speech_batch_size) as front:
            bad: dict[int, str] = {}
            durations = np.zeros(len(paths))
            for row, seconds in enumerate(front.map(audio_duration, paths, chunk=16)):
                if isinstance(seconds, AudioError):
                    bad[row] = str(seconds)
                elif seconds > self.max_audio_s:
                    bad[row] = f"audio is {seconds:.1f} s, longer than max_audio_s={self.max_audio_s}"
                else:
                    durations[row] = seconds
            self._check_bad(bad, ids, paths, view)

            good = np.array([row for row in range(len(paths)) if row not in bad], dtype=np.int64)
            frames = np.ceil(durations[good] * FBANK_FRAMES_PER_SECOND).astype(np.int64)
            budget = None if self.max_audio_seconds is None else int(self.max_audio_seconds * FBANK_FRAMES_PER_SECOND)
            batches = [good[b] for b in length_sorted_batches(frames, self.speech_batch_size, budget)]
            features = front.map(sonar_fbank, [paths[row] for rows in batches for row in rows], CLIPS_PER_TASK)
            out = np.zeros((len(paths), self.dim), dtype=np.float32)
            for rows in batches:
                ready = {int(row): next(features) for row in rows}
                failed = {row: str(r) for row, r in ready.items() if isinstance(r, AudioError)}
                if failed:
                    bad.update(failed)
                    self._check_bad(failed, ids, paths, view)
                kept = [row for row in ready if row not in failed]
                if kept:
                    out = self._store(out, kept, self._forward(model, [ready[row] for row in kept], 0, 2))
                self._advance(len(rows))
        keep = np.array([row not in bad for row in range(len(paths))], dtype=bool)
        skipped = {ids[row]: f"{paths[row]}: {reason}" for row, reason in sorted(bad.items())}
        if skipped:
            log.warning("view %s: skipped %d rows with bad audio: %s", view, len(skipped), describe(skipped, 3))
        return out[keep], skipped

    def _check_bad(self, bad: Mapping[int, str], ids: list[str], paths: list[str], view: str) -> None:
        if bad and not self.skip_bad_audio:
            named = {ids[row]: f"{paths[row]}: {reason}" for row, reason in sorted(bad.items())}
            raise bad_audio_error(self.name, view, named)

    def provenance(self) -> dict[str, str]:
        cards = {"text_encoder": self.text_card, "tokenizer": self.tokenizer_card}
        if isinstance(self.speech_encoder, Mapping):
            cards["speech_encoder"] = ",".join(f"{k}={v}" for k, v in sorted(self.speech_encoder.items()))
        else:
            cards["speech_encoder"] = self.speech_encoder
        return {
            "model_id": f"sonar:{self.text_card}|{cards['speech_encoder']}",
            "revision": "injected-model" if self._injected else "asset-card",
            "normalisation": "none",
            "precision": self.precision,
            **cards,
            "sonar_space": importlib.metadata.version("sonar-space"),
            "fairseq2": importlib.metadata.version("fairseq2"),
        }


def _check_card(hub: Any, card: str, key: str) -> None:
    """Raise naming ``key`` unless ``card`` is a model card fairseq2 knows (read offline)."""
    from fairseq2.models.hub import ModelNotKnownError

    try:
        hub.get_model_config(card)
    except ModelNotKnownError:
        raise FlipInputError(f"{key}: {card!r} is not a known SONAR model card") from None


def _model_max_seq_len(model: torch.nn.Module) -> int | None:
    """The text encoder's position limit, found where sonar-space's own pipeline finds it."""
    pos = getattr(getattr(model, "encoder_frontend", None), "pos_encoder", None)
    if pos is not None:
        return getattr(pos, "max_seq_len", None)
    try:
        return model.encoder.layers[0].self_attn.pos_encoder.max_seq_len  # type: ignore[union-attr]
    except AttributeError:
        return None
