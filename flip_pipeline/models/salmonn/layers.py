"""SALMONN layer by layer, behind the ``LayerEncoder`` protocol (thesis §4.1.3, Table 4.3).

SALMONN reads a sentence's speech and text together (:mod:`.model`), so every view is
*paired*: ``speech_xx`` needs the transcription ``text_xx`` beside each clip and ``text_xx``
needs the clip (:meth:`SalmonnLayers.paired_view`); both sides come from the same forward
pass and a view keeps its own part. Layers:

* speech views: ``speech_encoder`` (Whisper ⊕ BEATs frames entering the Q-Former, 2048-d at
  full size, mean over its frames), ``embeddings`` (the auditory embeddings: the Q-Former's
  audio tokens in the decoder's input space, 4096-d), ``layer_01`` … ``layer_32``;
* text views: ``embeddings`` (the transcription's token embeddings), ``layer_01`` … ``layer_32``.

Decoder layers are pooled over their part's positions; ``layer_32`` is after the decoder's
final RMS norm (transformers' ``hidden_states``), every other layer before it. The
languages are SeamlessM4T v2's (the thesis's Table 4.2: SALMONN shares its set), checked by
:func:`~flip_pipeline.models.seamless_m4t.languages.view_problem`; SALMONN takes no language
code, so the language only decides which views are valid.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Mapping

import numpy as np
import torch

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import view_language, view_modality
from flip_pipeline.models.audio.bad_audio import bad_audio_error, describe
from flip_pipeline.models.audio.features import AudioError, audio_duration, load_audio
from flip_pipeline.models.batching import length_sorted_batches
from flip_pipeline.models.layer_encoder import to_numpy
from flip_pipeline.models.layer_names import stack_names
from flip_pipeline.models.precision import PRECISIONS
from flip_pipeline.models.salmonn.checkpoint import require_converted, source_sha256
from flip_pipeline.models.salmonn.model import ENCODER_OUTPUT, PROMPT, PROMPT_TEMPLATE
from flip_pipeline.models.seamless_m4t.languages import view_problem

log = logging.getLogger(__name__)

#: Whisper's window: SALMONN truncates longer audio; here it is bad input.
MAX_AUDIO_S = 30.0


class SalmonnLayers:
    """SALMONN's speech and text parts, per layer, mean-pooled; see the module.

    Args:
        name: config name (``encoders.<name>``).
        checkpoint, beats: SALMONN's and BEATs' checkpoints converted to safetensors.
        whisper, llm: hub ids or folders of Whisper (``openai/whisper-large-v2``) and of the
            decoder (``lmsys/vicuna-7b-v1.5``).
        languages: view language → code overrides, as for SeamlessM4T (only validity is used).
        prompt, prompt_template: the instruction around ``<SpeechHere>`` and SALMONN's template.
        qformer_heads, lora_alpha, second_per_window, second_stride: see :func:`.model.load_salmonn`.
        max_text_tokens: SALMONN's ``max_txt_len``: longer transcriptions are cut.
        device, precision, batch_size: torch device, ``fp32``/``fp16``/``bf16``, sentences per batch.
        max_audio_s: longer clips are bad audio (at most Whisper's 30 s).
        skip_bad_audio: leave out rows whose audio is missing, unreadable, empty or too long.
    """

    def __init__(self, name: str, checkpoint: str, beats: str, whisper: str = "openai/whisper-large-v2",
                 llm: str = "lmsys/vicuna-7b-v1.5", languages: Mapping[str, str] | None = None, prompt: str = PROMPT,
                 prompt_template: str = PROMPT_TEMPLATE, qformer_heads: int = 12, lora_alpha: float = 32.0,
                 second_per_window: float = 0.333333, second_stride: float = 0.333333, max_text_tokens: int = 300,
                 device: str | torch.device = "cpu", precision: str = "fp32", batch_size: int = 4,
                 max_audio_s: float = MAX_AUDIO_S, skip_bad_audio: bool = False, revision: str | None = None):
        if precision not in PRECISIONS:
            raise FlipInputError(f"encoders.{name}.precision: {precision!r} is not one of {sorted(PRECISIONS)}")
        if not 0 < max_audio_s <= MAX_AUDIO_S:
            raise FlipInputError(f"encoders.{name}.max_audio_s: {max_audio_s} is not in (0, {MAX_AUDIO_S}] "
                                 f"(Whisper's window)")
        for key, path in (("checkpoint", checkpoint), ("beats", beats)):
            require_converted(path, f"encoders.{name}.{key}")
        self.name, self.languages, self.revision = name, dict(languages or {}), revision
        self.files = {"checkpoint": checkpoint, "beats": beats, "whisper": whisper, "llm": llm}
        self.prompt, self.prompt_template, self.max_text_tokens = prompt, prompt_template, max_text_tokens
        self.options = {"qformer_heads": qformer_heads, "lora_alpha": lora_alpha,
                        "second_per_window": second_per_window, "second_stride": second_stride}
        self.device, self.precision = torch.device(device), precision
        self.batch_size, self.max_audio_s, self.skip_bad_audio = batch_size, max_audio_s, skip_bad_audio
        self._config = self._loaded = None

    # ----------------------------------------------------------------- views and layers
    def check_view(self, view: str) -> None:
        known = view_modality(view) in ("text", "speech")
        problem = view_problem({"languages": self.languages}, view, self.name) if known else f"no modality {view!r}"
        if problem is not None:
            raise FlipInputError(f"encoder {self.name!r} (salmonn, SeamlessM4T v2's languages): {problem}")

    @staticmethod
    def paired_view(view: str) -> str:
        """The view read together with ``view``: ``speech_de`` ↔ ``text_de``."""
        other = "text" if view_modality(view) == "speech" else "speech"
        return f"{other}_{view_language(view)}"

    def llm_config(self):
        if self._config is None:
            from transformers import AutoConfig

            self._config = AutoConfig.from_pretrained(self.files["llm"], revision=self.revision)
        return self._config

    def layer_names(self, view: str) -> list[str]:
        self.check_view(view)
        names = stack_names(self.llm_config().num_hidden_layers)
        return [ENCODER_OUTPUT, *names] if view_modality(view) == "speech" else names

    def layer_norm(self, view: str, layer: str) -> str:
        return "after" if layer == self.layer_names(view)[-1] else "before"

    # ----------------------------------------------------------------- encoding
    def _model(self):
        if self._loaded is None:
            from flip_pipeline.models.salmonn.model import load_salmonn, prompt_parts

            log.info("loading SALMONN (%s, %s, %s, %s) on %s (%s)", *self.files.values(), self.device, self.precision)
            model, tokenizer, extractor = load_salmonn(**self.files, dtype=PRECISIONS[self.precision],
                                                       device=self.device, revision=self.revision,
                                                       what=f"encoders.{self.name}", **self.options)
            self._loaded = (model, tokenizer, extractor,
                            prompt_parts(tokenizer, self.prompt, self.prompt_template))
        return self._loaded

    def encode_layers(self, ids: list[str], inputs: list[str], view: str, layers: list[str],
                      paired: list[str] | None = None) -> dict[str, np.ndarray]:
        """``{layer: float32 (n, d)}`` in input order; ``paired``: the :meth:`paired_view` column
        of the same rows (transcriptions for a speech view, audio paths for a text view)."""
        arrays, skipped = self.encode_layers_skipping(ids, inputs, view, layers, paired)
        if skipped:
            raise FlipInputError(f"encoder {self.name!r}, view {view!r}: bad audio: {describe(skipped)}")
        return arrays

    def encode_layers_skipping(self, ids: list[str], inputs: list[str], view: str, layers: list[str],
                               paired: list[str] | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """``({layer: float32 (m, d)}, {id: "path: reason"})`` for the ``m`` kept rows."""
        self.check_view(view)
        speech_view = view_modality(view) == "speech"
        if paired is None or len(paired) != len(ids):
            raise FlipInputError(f"encoder {self.name!r} (salmonn) reads speech and text together: view {view!r} "
                                 f"needs the {self.paired_view(view)!r} column of the same rows")
        paths, texts = (inputs, paired) if speech_view else (paired, inputs)
        empty = [row_id for row_id, text in zip(ids, texts, strict=True) if not str(text or "").strip()]
        if empty:
            raise FlipInputError(f"encoder {self.name!r}, view {view!r}: speech clip without its text "
                                 f"({self.paired_view(view) if speech_view else view} empty) in rows "
                                 f"{', '.join(map(str, empty[:10]))}")
        bad = self._bad_audio(paths)
        if bad and not self.skip_bad_audio:
            raise bad_audio_error(self.name, view, {ids[r]: f"{paths[r]}: {why}" for r, why in sorted(bad.items())})
        kept = np.array([row for row in range(len(ids)) if row not in bad], dtype=np.int64)
        available = self.layer_names(view)
        wanted = {name: available.index(name) - (1 if speech_view else 0) for name in layers}  # hidden_states index
        out = self._encode(kept, paths, texts, speech_view, wanted)
        skipped = {ids[row]: f"{paths[row]}: {reason}" for row, reason in sorted(bad.items())}
        if skipped:
            log.warning("view %s: skipped %d rows with bad audio: %s", view, len(skipped), describe(skipped, 3))
        return out, skipped

    def _bad_audio(self, paths: list[str]) -> dict[int, str]:
        bad = {}
        for row, path in enumerate(paths):
            try:
                seconds = audio_duration(path)
                if seconds > self.max_audio_s:
                    raise AudioError(f"audio is {seconds:.1f} s, longer than max_audio_s={self.max_audio_s}")
            except AudioError as err:
                bad[row] = str(err)
        return bad

    def _encode(self, kept: np.ndarray, paths: list[str], texts: list[str], speech_view: bool,
                wanted: dict[str, int]) -> dict[str, np.ndarray]:
        """Pooled layers of the ``kept`` rows, in their order, batched by transcription length."""
        from flip_pipeline.models.salmonn.model import audio_inputs, sequence_layout

        if not len(kept):
            return {name: np.zeros((0, 0), np.float32) for name in wanted}
        model, tokenizer, extractor, (before, after) = self._model()
        tokens = [tokenizer(texts[row], add_special_tokens=False)["input_ids"][: self.max_text_tokens] for row in kept]
        audio_tokens = model.audio_tokens()
        out: dict[str, np.ndarray] = {}
        for batch in length_sorted_batches([len(t) for t in tokens], self.batch_size):
            try:
                waves = [load_audio(paths[kept[i]]) for i in batch]
            except AudioError as err:  # the header read, the samples did not
                raise FlipInputError(f"encoder {self.name!r}: bad audio: {err}") from None
            features, waves = audio_inputs(extractor, waves)
            layout = sequence_layout(tokenizer.bos_token_id, before, after, audio_tokens, [tokens[i] for i in batch])
            indices = sorted({i for name, i in wanted.items() if name != ENCODER_OUTPUT})
            with torch.inference_mode():
                speech, text = model(features.to(self.device, model.llm.dtype), waves, layout, indices)
            part = speech if speech_view else text
            pooled = {name: part[ENCODER_OUTPUT if name == ENCODER_OUTPUT else index] for name, index in wanted.items()}
            for name, block in to_numpy(pooled).items():
                out.setdefault(name, np.zeros((len(kept), block.shape[1]), dtype=np.float32))[batch] = block
        return out

    def provenance(self) -> dict[str, str]:
        return {
            "model_id": f"SALMONN ({self.files['checkpoint']}; BEATs {self.files['beats']}; {self.files['whisper']}; "
                        f"{self.files['llm']})",
            "revision": self.revision or "default",
            "source_sha256": f"checkpoint {source_sha256(self.files['checkpoint'])}, "
                             f"beats {source_sha256(self.files['beats'])}",
            "normalisation": "none",
            "precision": self.precision,
            "layer_source": f"one sequence per sentence, {self.prompt_template.format(self.prompt)!r} around the "
                            "audio, the transcription after it; hidden_states split by position into speech and "
                            "text parts",
            "transformers": importlib.metadata.version("transformers"),
        }

