"""Offline stand-ins for SONAR: the real sonar-space model classes with random weights,
the real NLLB tokenizer class on a small SentencePiece model trained here, and speech
synthesised with espeak-ng. Shared by the SONAR tests and ``benchmarks/embed.py``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import torch

#: NLLB codes the stand-in tokenizer knows (each gets its ``__xxx_Yyyy__`` token).
STANDIN_LANGS = ["eng_Latn", "deu_Latn", "fra_Latn", "ben_Beng", "hin_Deva", "tam_Taml", "tel_Telu"]


def train_standin_tokenizer(folder: Path, sentences: list[str], vocab_size: int = 2000):
    """Train a unigram SentencePiece model on ``sentences`` and load it with fairseq2's
    NLLB tokenizer class, as SONAR's ``text_sonar_basic_encoder`` card does.

    The special ids follow NLLB (``<pad>`` 0 inserted by fairseq2, ``<unk>`` 1, ``<s>`` 2,
    ``</s>`` 3), so the ids fit SONAR's 256k-entry embedding table.
    """
    import sentencepiece as spm
    from fairseq2.models.nllb.tokenizer import NllbTokenizerConfig, load_nllb_tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / "standin"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        seed_sentencepiece_size=100_000,
        minloglevel=2,
    )
    config = NllbTokenizerConfig(langs=list(STANDIN_LANGS), default_lang="eng_Latn")
    return load_nllb_tokenizer(Path(f"{prefix}.model"), config)


def random_sonar_text_encoder(arch: str = "basic", seed: int = 0) -> torch.nn.Module:
    """SONAR's text encoder built from its architecture config, random weights, eval mode."""
    from sonar.models.sonar_text import get_sonar_text_encoder_hub

    hub = get_sonar_text_encoder_hub()
    torch.manual_seed(seed)
    return hub.create_new_model(hub.get_arch_config(arch)).eval()


def random_sonar_speech_encoder(arch: str = "english", seed: int = 0) -> torch.nn.Module:
    """SONAR's speech encoder built from its architecture config, random weights, eval mode."""
    from sonar.models.sonar_speech import get_sonar_speech_encoder_hub

    hub = get_sonar_speech_encoder_hub()
    torch.manual_seed(seed)
    return hub.create_new_model(hub.get_arch_config(arch)).eval()


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def synthesize(text: str, path: Path, voice: str = "en", speed: int = 175) -> Path:
    """Speak ``text`` into a WAV file (22.05 kHz mono) with espeak-ng; deterministic."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True, capture_output=True)
    return path


def small_sonar_speech_encoder(seed: int = 0, layers: int = 2, dim: int = 64) -> torch.nn.Module:
    """SONAR's speech encoder class from the ``english`` architecture shrunk to ``layers`` × ``dim``
    (random weights, eval mode): the real front-end contract (80-bin filterbanks, padding layout)
    for tests and benchmarks where the 24-layer model's time would hide the front end's."""
    import dataclasses

    from sonar.models.sonar_speech import get_sonar_speech_encoder_hub

    hub = get_sonar_speech_encoder_hub()
    arch = hub.get_arch_config("english")
    w2v2 = dataclasses.replace(arch.w2v2_encoder_config, model_dim=dim, num_encoder_layers=layers,
                               num_encoder_attn_heads=4, ffn_inner_dim=2 * dim)
    config = dataclasses.replace(arch, w2v2_encoder_config=w2v2, model_dim=dim, num_decoder_attn_heads=4,
                                 ffn_inner_dim=2 * dim)
    torch.manual_seed(seed)
    return hub.create_new_model(config).eval()


#: English sentences of very different lengths, spoken or embedded by the encoder tests.
SENTENCES = [
    "Tom is here.",
    "I don't think Mary will be able to come to the party on Saturday because she has to work.",
    "Where is the station?",
    "Cats sleep.",
    "The old farmer buys three red apples at the market every Monday morning.",
    "Thank you very much for your help yesterday.",
]


def spoken_clips(folder: Path, texts: list[str]) -> list[str]:
    """``texts`` spoken by espeak-ng into ``folder/s{i}.wav``; fails (not skips) without espeak-ng."""
    import pytest

    if not espeak_available():
        pytest.fail("espeak-ng is missing: apt-get install espeak-ng (setup.sh does)")
    return [str(synthesize(text, folder / f"s{i}.wav")) for i, text in enumerate(texts)]


def bad_audio_files(folder: Path) -> dict[str, str]:
    """One clip of each kind of bad audio, by row id: a missing file, an empty file, a clip of 80
    samples (5 ms at 16 kHz, shorter than one fbank frame) and bytes that are no audio at all."""
    import numpy as np
    import soundfile

    (folder / "zero.wav").write_bytes(b"")
    soundfile.write(folder / "tiny.wav", np.zeros(80, dtype=np.float32), 16000)
    (folder / "junk.mp3").write_bytes(b"this is not audio at all" * 10)
    return {"missing": str(folder / "missing.wav"), "zero": str(folder / "zero.wav"),
            "tiny": str(folder / "tiny.wav"), "junk": str(folder / "junk.mp3")}
