"""SeamlessM4T v2's text and speech encoders through transformers, layer by layer.

One config entry serves both modalities: ``text_xx`` views go through the text encoder
(``SeamlessM4Tv2ForTextToText.text_encoder``) with the source-language token of ``xx``,
``speech_xx`` views through the speech encoder (``SeamlessM4Tv2ForSpeechToText.speech_encoder``);
each is loaded on first use, its decoder dropped. Layers (thesis §4.1.1):

* text: ``hidden_states[0]`` = ``embeddings`` (scaled token + sinusoidal position
  embeddings), ``hidden_states[i]`` = ``layer_{i:02d}``; the last entry is *after* the
  encoder's final layer norm, the others before it;
* speech: ``hidden_states[0]`` = ``embeddings`` (the filterbank features after the
  feature projection, padding zeroed), ``layer_01`` … ``layer_24`` (conformer layers; the
  last after the encoder's final layer norm), and ``adaptor``: the speech encoder's output,
  after its intermediate feed-forward, the length adaptor (stride 8) and ``inner_layer_norm``.

Pooling uses the attention masks: the feature extractor's (one entry per stacked pair of
filterbank frames, the conformer's rate) for the encoder layers. The adaptor shortens the
sequence, and its strided convolutions read padded frames at the end of a shorter clip in a
padded batch, so ``adaptor`` is computed per clip on its unpadded encoder output (the same
modules the model runs): it does not depend on which clips share a batch. Audio is decoded
with :func:`~flip_pipeline.models.sonar.embed.load_audio` (mono, 16 kHz).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import torch

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import view_language, view_modality
from flip_pipeline.models.audio.bad_audio import bad_audio_error, describe
from flip_pipeline.models.audio.features import SAMPLE_RATE, AudioError, audio_duration, load_audio
from flip_pipeline.models.batching import cpu_token_budget, length_sorted_batches
from flip_pipeline.models.hf_transformers import pool_text_batches
from flip_pipeline.models.layer_encoder import masked_mean, to_numpy
from flip_pipeline.models.layer_names import ADAPTOR, stack_names
from flip_pipeline.models.precision import model_dtype
from flip_pipeline.models.pretrained import PretrainedFiles
from flip_pipeline.models.seamless_m4t.languages import language_code, view_problem
from flip_pipeline.progress import advance

log = logging.getLogger(__name__)

DEFAULT_MODEL = "facebook/seamless-m4t-v2-large"
CPU_MAX_TOKENS = 1024


class SeamlessM4TLayers:
    """SeamlessM4T v2 text (``text_xx``) and speech (``speech_xx``) encoder layers, mean-pooled.

    Args:
        name: config name (``encoders.<name>``).
        model: hub id or local folder of a SeamlessM4T v2 checkpoint (config, weights,
            tokenizer, feature extractor).
        languages: view language → SeamlessM4T language code (``en: eng``), overriding
            :data:`~flip_pipeline.models.seamless_m4t.languages.VIEW_CODES`.
        device: torch device.
        precision: ``fp32``, ``fp16`` or ``bf16`` weights (outputs are float32).
        batch_size, max_tokens: most texts and padded tokens per text batch.
        speech_batch_size: most clips per speech batch.
        max_audio_s: longer clips are bad input.
        skip_bad_audio: leave out rows whose audio is missing, unreadable, empty or too long.
        revision: hub revision.
    """

    def __init__(self, name: str, model: str = DEFAULT_MODEL, languages: Mapping[str, str] | None = None,
                 device: str | torch.device = "cpu", precision: str = "fp32", batch_size: int = 32,
                 max_tokens: int | None = None, speech_batch_size: int = 8, max_audio_s: float = 80.0,
                 skip_bad_audio: bool = False, revision: str | None = None):
        dtype = model_dtype(name, precision)
        self.name, self.model_id, self.revision = name, model, revision
        self.files = PretrainedFiles(model, revision)
        self.languages = dict(languages or {})
        self.device, self.precision, self.dtype = torch.device(device), precision, dtype
        self.batch_size, self.max_tokens = batch_size, cpu_token_budget(max_tokens, self.device, CPU_MAX_TOKENS)
        self.speech_batch_size, self.max_audio_s, self.skip_bad_audio = speech_batch_size, max_audio_s, skip_bad_audio
        self._encoders: dict[str, torch.nn.Module] = {}  # modality -> encoder

    # ----------------------------------------------------------------- config and models
    def config(self):
        return self.files.config

    def language_code(self, view: str) -> str:
        code = language_code(view_language(view), self.languages)
        if code is None:
            problem = view_problem({"languages": self.languages}, view, self.name)
            raise FlipInputError(f"encoder {self.name!r}: {problem}")
        return code

    def check_view(self, view: str) -> None:
        if view_modality(view) not in ("text", "speech"):
            raise FlipInputError(f"encoder {self.name!r} (seamless_m4t): unknown modality of view {view!r}")
        problem = view_problem({"languages": self.languages}, view, self.name)
        if problem is not None:
            raise FlipInputError(f"encoder {self.name!r}: {problem}")

    def _encoder(self, modality: str) -> torch.nn.Module:
        if modality not in self._encoders:
            from transformers import SeamlessM4Tv2ForSpeechToText, SeamlessM4Tv2ForTextToText

            cls = SeamlessM4Tv2ForTextToText if modality == "text" else SeamlessM4Tv2ForSpeechToText
            log.info("loading the SeamlessM4T v2 %s encoder of %s on %s (%s)", modality, self.model_id, self.device,
                     self.precision)
            full = self.files.load(cls, dtype=self.dtype)
            encoder = full.text_encoder if modality == "text" else full.speech_encoder
            del full  # the decoder is not needed
            self._encoders[modality] = encoder.to(self.device).eval()
        return self._encoders[modality]

    def layer_names(self, view: str) -> list[str]:
        self.check_view(view)
        config = self.config()
        if view_modality(view) == "text":
            return stack_names(config.encoder_layers)
        return stack_names(config.speech_encoder_layers) + ([ADAPTOR] if config.add_adapter else [])

    def layer_norm(self, view: str, layer: str) -> str:
        return "after" if layer in (self.layer_names(view)[-1], ADAPTOR) else "before"

    # ----------------------------------------------------------------- encoding
    def encode_layers(self, ids: list[str], inputs: list[str], view: str, layers: list[str]) -> dict[str, np.ndarray]:
        """``{layer: float32 (n, d)}`` in input order; bad audio raises even with ``skip_bad_audio``."""
        arrays, skipped = self.encode_layers_skipping(ids, inputs, view, layers)
        if skipped:
            raise FlipInputError(f"encoder {self.name!r}, view {view!r}: bad audio: {describe(skipped)}")
        return arrays

    def encode_layers_skipping(self, ids: list[str], inputs: list[str], view: str,
                               layers: list[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """``({layer: float32 (m, d)}, {id: "path: reason"})`` for the ``m`` kept rows, in
        input order; rows are left out only for bad audio with ``skip_bad_audio``."""
        self.check_view(view)
        index = {name: i for i, name in enumerate(self.layer_names(view))}
        with torch.inference_mode():
            if view_modality(view) == "text":
                return self._text_layers(inputs, view, {name: index[name] for name in layers}), {}
            return self._speech_layers(ids, inputs, view, layers, index)

    def _text_layers(self, texts: list[str], view: str, wanted: dict[str, int]) -> dict[str, np.ndarray]:
        encoder, tokenizer = self._encoder("text"), self.files.tokenizer
        code = self.language_code(view)
        if tokenizer.convert_tokens_to_ids(f"__{code}__") == tokenizer.unk_token_id:
            raise FlipInputError(f"encoder {self.name!r}, view {view!r}: the tokenizer of {self.model_id!r} has no "
                                 f"language {code!r}; set encoders.{self.name}.languages.{view_language(view)}")
        tokenizer.src_lang = code
        limit = self.config().max_position_embeddings
        seqs = tokenizer(list(texts), truncation=True, max_length=limit, padding=False)["input_ids"] if texts else []
        return pool_text_batches(encoder, seqs, tokenizer.pad_token_id or 0, wanted, self.batch_size, self.max_tokens,
                                 self.device)

    def _speech_layers(self, ids: list[str], paths: list[str], view: str, layers: list[str],
                       index: dict[str, int]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        encoder, extract = self._encoder("speech"), self.files.feature_extractor
        durations, bad = np.zeros(len(paths)), {}
        for row, path in enumerate(paths):
            try:
                durations[row] = audio_duration(path)
                if durations[row] > self.max_audio_s:
                    raise AudioError(f"audio is {durations[row]:.1f} s, longer than max_audio_s={self.max_audio_s}")
            except AudioError as err:
                bad[row] = str(err)
        self._check_bad(bad, ids, paths, view)
        good = np.array([row for row in range(len(paths)) if row not in bad], dtype=np.int64)
        frames = np.ceil(durations[good] * SAMPLE_RATE).astype(np.int64)
        out: dict[str, np.ndarray] = {}
        for batch in length_sorted_batches(frames, self.speech_batch_size):
            waves = {}
            for row in good[batch]:  # decoded a batch at a time: a shard of audio need not fit in memory
                try:
                    waves[int(row)] = load_audio(paths[row])
                except AudioError as err:
                    bad[int(row)] = str(err)
            self._check_bad(bad, ids, paths, view)
            kept = [i for i in batch if int(good[i]) in waves]
            if kept:
                pooled = self._speech_batch(encoder, extract, [waves[int(good[i])] for i in kept], layers, index)
                for name, block in to_numpy(pooled).items():
                    out.setdefault(name, np.zeros((len(good), block.shape[1]), dtype=np.float32))[kept] = block
            advance(len(batch))  # the stage's progress bar, if one is open
        keep = np.array([int(row) not in bad for row in good], dtype=bool)
        skipped = {ids[row]: f"{paths[row]}: {reason}" for row, reason in sorted(bad.items())}
        if skipped:
            log.warning("view %s: skipped %d rows with bad audio: %s", view, len(skipped), describe(skipped, 3))
        return {name: out[name][keep] if name in out else np.zeros((0, 0), np.float32) for name in layers}, skipped

    def _check_bad(self, bad: Mapping[int, str], ids: list[str], paths: list[str], view: str) -> None:
        if bad and not self.skip_bad_audio:
            raise bad_audio_error(self.name, view, {ids[r]: f"{paths[r]}: {why}" for r, why in sorted(bad.items())})

    def _speech_batch(self, encoder, extract, waves: list[np.ndarray], layers: list[str],
                      index: dict[str, int]) -> dict[str, torch.Tensor]:
        """Every requested layer of one batch of 16 kHz waveforms: ``{layer: (b, d)}``."""
        features = extract(waves, sampling_rate=SAMPLE_RATE, padding=True, return_attention_mask=True,
                           return_tensors="pt")
        x = features["input_features"].to(self.device, self.dtype)
        mask = features["attention_mask"].to(self.device)
        # SeamlessM4Tv2SpeechEncoder.forward up to its encoder, so that the adaptor can run per clip below.
        encoded = encoder.encoder(encoder.feature_projection(x), attention_mask=mask, output_hidden_states=True,
                                  return_dict=True)
        pooled = {name: masked_mean(encoded.hidden_states[index[name]], mask) for name in layers if name != ADAPTOR}
        if ADAPTOR in layers:
            clips = []
            for row, length in enumerate(mask.sum(dim=1).tolist()):
                hidden = encoded.last_hidden_state[row : row + 1, :length]
                hidden = hidden + 0.5 * encoder.intermediate_ffn(hidden)
                if encoder.adapter is not None:
                    hidden = encoder.adapter(hidden, attention_mask=None)
                clips.append(encoder.inner_layer_norm(hidden).float().mean(dim=1))
            pooled[ADAPTOR] = torch.cat(clips)
        return pooled

    def provenance(self) -> dict[str, str]:
        return self.files.provenance(self.precision, "transformers output_hidden_states; adaptor: the speech encoder output per clip")
