"""Write 16-bit wav files (demo streams, spoken output)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.decode import float_to_pcm16


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(float_to_pcm16(samples))
