"""Signal levels in short frames, computed in one place (speech bounds, trimming, a final's unheard tail)."""

from __future__ import annotations

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE

LEVEL_FRAME_SAMPLES = SAMPLE_RATE // 100  # 10 ms
ACTIVE_DB = 30.0  # 10 ms frames within this many dB of a clip's loudest frame count as the sound being there
ONSET_DB = 20.0  # the onset is the first 10 ms frame within this many dB of the loudest (ignores faint lead-ins)
NARROWBAND_HZ = 4000  # a call sampled at 8 kHz has nothing above half its rate
NARROWBAND_MAX_FRACTION = 2e-4  # of the energy above NARROWBAND_HZ (-37 dB): telephone-band audio. Built streams: at
# most 1.5e-4 in 278 telephone segments; wideband segments 2.2e-5 at the least but 1.3e-3 at the 5th percentile


def frame_rms(audio: np.ndarray, frame: int = LEVEL_FRAME_SAMPLES) -> np.ndarray:
    """RMS of each whole frame of `audio`; a trailing part shorter than a frame is left out."""
    n = len(audio) // frame
    return np.sqrt(np.mean(np.square(audio[: n * frame].reshape(n, frame)), axis=1))


def narrowband(audio: np.ndarray) -> bool:
    """Whether `audio` (16 kHz) is telephone-band: next to no energy above NARROWBAND_HZ."""
    if len(audio) < LEVEL_FRAME_SAMPLES:
        return False
    power = np.abs(np.fft.rfft(audio)) ** 2
    high = power[np.fft.rfftfreq(len(audio), 1.0 / SAMPLE_RATE) >= NARROWBAND_HZ].sum()
    return bool(high < NARROWBAND_MAX_FRACTION * max(float(power.sum()), 1e-20))


def active_span(clip: np.ndarray) -> tuple[float, float, float]:
    """(onset s, end s, RMS over active frames) of a clip, from 10 ms frame energies."""
    hop = LEVEL_FRAME_SAMPLES
    n = max(1, len(clip) // hop)
    energy = np.square(clip[: n * hop].reshape(n, hop)).mean(axis=1) + 1e-12
    active = np.flatnonzero(energy >= energy.max() * 10 ** (-ACTIVE_DB / 10))
    loud = np.flatnonzero(energy >= energy.max() * 10 ** (-ONSET_DB / 10))
    return loud[0] * hop / SAMPLE_RATE, (active[-1] + 1) * hop / SAMPLE_RATE, float(np.sqrt(energy[active].mean()))
