"""Per-clip audio work of the speech encoders: header checks, decoding, resampling, filterbanks.

These functions take one path and are what the front end's workers run
(:mod:`flip_pipeline.models.audio.frontend`), so this module imports no model code:
numpy, soundfile, scipy and fairseq2's filterbank converter only. Audio is decoded with
libsndfile (WAV, FLAC, OGG, MP3), mixed down to mono and resampled to 16 kHz; the
filterbanks are fairseq2's ``WaveformToFbankConverter`` (80 log-mel bins, 25 ms window,
10 ms hop), as SONAR's speech encoders were trained on. Bad audio raises
:class:`AudioError` whose message is the reason; callers report it by row id and path.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
FBANK_FRAMES_PER_SECOND = 100  # 10 ms hop
MIN_AUDIO_SECONDS = 0.05
MEL_BINS = 80


class AudioError(Exception):
    """One audio file cannot be encoded; the message is the reason."""


def audio_duration(path: str) -> float:
    """Duration in seconds from the file header (no decoding)."""
    import soundfile

    p = Path(path)
    if not p.is_file():
        raise AudioError("file not found")
    if p.stat().st_size == 0:
        raise AudioError("empty file")
    try:
        info = soundfile.info(str(p))
    except (RuntimeError, TypeError, ValueError) as err:  # soundfile.LibsndfileError is a RuntimeError
        raise AudioError(f"unreadable audio ({err})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError("empty audio")
    seconds = info.frames / info.samplerate
    if seconds < MIN_AUDIO_SECONDS:
        raise AudioError(f"audio too short ({seconds:.3f} s)")
    return seconds


def load_audio(path: str) -> np.ndarray:
    """Decode ``path`` to mono float32 in [-1, 1] at 16 kHz, ``(samples,)``."""
    import soundfile
    from scipy.signal import resample_poly

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, TypeError, ValueError) as err:
        raise AudioError(f"unreadable audio ({err})") from None
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != SAMPLE_RATE and len(wave):
        g = math.gcd(int(rate), SAMPLE_RATE)
        wave = resample_poly(wave, SAMPLE_RATE // g, int(rate) // g).astype(np.float32)
    if len(wave) < MIN_AUDIO_SECONDS * SAMPLE_RATE:
        raise AudioError("empty audio" if len(wave) == 0 else f"audio too short ({len(wave) / SAMPLE_RATE:.3f} s)")
    return np.ascontiguousarray(wave, dtype=np.float32)


@functools.lru_cache(maxsize=2)
def _fbank_converter(standardize: bool):
    import torch
    from fairseq2.data.audio import WaveformToFbankConverter

    return WaveformToFbankConverter(
        num_mel_bins=MEL_BINS, waveform_scale=2**15, channel_last=True, standardize=standardize, dtype=torch.float32
    )


def fbank(wave: np.ndarray, standardize: bool):
    """80-bin log-mel filterbanks of a 16 kHz mono wave ``(samples,)`` → float32 torch tensor
    ``(frames, 80)``, 100 frames per second; ``standardize``: each bin to mean 0 and
    standard deviation 1 over frames."""
    import torch

    waveform = torch.from_numpy(wave).unsqueeze(1)
    return _fbank_converter(standardize)({"waveform": waveform, "sample_rate": float(SAMPLE_RATE)})["fbank"]


def sonar_fbank(path: str) -> np.ndarray:
    """SONAR speech input of one clip: standardised filterbanks, float32 ``(frames, 80)``."""
    return fbank(load_audio(path), standardize=True).numpy()


def fbank_statistics(path: str) -> np.ndarray:
    """Per-bin mean then standard deviation over frames of a clip's (not standardised)
    filterbanks, float32 ``(160,)``; a missing or empty file is named before decoding."""
    import torch

    audio_duration(path)
    frames = fbank(load_audio(path), standardize=False)
    return torch.cat([frames.mean(dim=0), frames.std(dim=0, correction=0)]).numpy()
