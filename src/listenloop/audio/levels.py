"""Signal levels in short frames, computed in one place (speech bounds, trimming, a final's unheard tail)."""

from __future__ import annotations

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE

LEVEL_FRAME_SAMPLES = SAMPLE_RATE // 100  # 10 ms


def frame_rms(audio: np.ndarray, frame: int = LEVEL_FRAME_SAMPLES) -> np.ndarray:
    """RMS of each whole frame of `audio`; a trailing part shorter than a frame is left out."""
    n = len(audio) // frame
    return np.sqrt(np.mean(np.square(audio[: n * frame].reshape(n, frame)), axis=1))
