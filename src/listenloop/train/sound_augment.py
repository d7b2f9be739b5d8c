"""Make clean clips sound like the real world (audiomentations), and synthesize what has a simple physical form.

Augmentation: a clip is masked under a background from the set's own negatives (speech, music, rain, household,
outdoors) at 0 to 20 dB, then heard through a phone or laptop microphone (band limits, gain, compression, clipping,
added noise). Synthesis: the T3 pattern of a smoke alarm (three 0.5 s beeps near 3.1 kHz, 1.5 s pause) and other
alarm beeps, siren sweeps (wail, yelp, two-tone) and a classic telephone ring (a bell struck 20 times a second, or an
electronic trill, in a ring cadence). All randomness comes from one numpy Generator.
"""

from __future__ import annotations

import random

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.levels import ACTIVE_DB

SNR_DB = (0.0, 20.0)  # clip over background, dB (active RMS): the masking range
MIX_PROBABILITY = 0.8  # share of augmented copies masked under a background
PEAK_LIMIT = 0.99  # mixes are scaled down to this peak before the microphone chain
BAND_TOP_HZ = 7500.0  # harmonics above this are dropped (a 16 kHz recording holds nothing above 8 kHz)
SYNTH_SECONDS = 6.0  # s, length of a synthetic clip


def _microphone(rng: np.random.Generator):
    """A random phone/laptop microphone chain (audiomentations, seeded through numpy's global state per call)."""
    try:
        import audiomentations as am
    except ImportError:
        raise RuntimeError("training needs audiomentations: pip install 'listenloop[train]'") from None

    return am.Compose([
        am.BandPassFilter(min_center_freq=800.0, max_center_freq=2000.0, min_bandwidth_fraction=1.0,
                          max_bandwidth_fraction=1.9, p=0.35),  # phone and laptop microphones: ~300-3400 Hz
        am.HighPassFilter(min_cutoff_freq=80.0, max_cutoff_freq=400.0, p=0.3),  # small capsules lose the bass
        am.Gain(min_gain_db=-18.0, max_gain_db=6.0, p=0.7),  # distance and automatic gain
        am.TanhDistortion(min_distortion=0.05, max_distortion=0.4, p=0.3),  # compression of a gain control
        am.ClippingDistortion(min_percentile_threshold=0, max_percentile_threshold=20, p=0.15),  # overdriven input
        am.AddGaussianSNR(min_snr_db=15.0, max_snr_db=40.0, p=0.3),  # microphone self-noise
    ])


def active_rms(x: np.ndarray) -> float:
    """RMS over the 10 ms frames within ACTIVE_DB of the loudest (the sound, not the silence around it)."""
    n = len(x) // 160
    if n == 0:
        return float(np.sqrt(np.mean(x**2)) + 1e-9)
    energy = (x[: n * 160].reshape(n, 160) ** 2).mean(axis=1) + 1e-12
    keep = energy >= energy.max() * 10 ** (-ACTIVE_DB / 10)
    return float(np.sqrt(energy[keep].mean()))


def mix(clip: np.ndarray, background: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """The clip over a random stretch of the background (looped if short) at snr_db, peak-limited."""
    if len(background) < len(clip):
        background = np.tile(background, int(np.ceil(len(clip) / max(1, len(background)))) + 1)
    start = int(rng.integers(0, len(background) - len(clip) + 1))
    bg = background[start : start + len(clip)]
    scale = active_rms(clip) / (10 ** (snr_db / 20)) / max(active_rms(bg), 1e-6)
    out = clip + scale * bg
    peak = float(np.abs(out).max())
    return (out * (PEAK_LIMIT / peak) if peak > PEAK_LIMIT else out).astype(np.float32)


def augment(clip: np.ndarray, backgrounds: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """One real-world copy of a clip: masked (MIX_PROBABILITY) and through a random microphone."""
    out = clip
    if backgrounds and rng.random() < MIX_PROBABILITY:
        bg = backgrounds[int(rng.integers(len(backgrounds)))]
        out = mix(clip, bg, float(rng.uniform(*SNR_DB)), rng)
    seed = int(rng.integers(2**31))  # audiomentations draws from Python's and numpy's global generators
    random.seed(seed)
    np.random.seed(seed)
    out = _microphone(rng)(samples=out.astype(np.float32), sample_rate=SAMPLE_RATE)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def _tone(freq: np.ndarray, harmonics: int, rng: np.random.Generator) -> np.ndarray:
    """A tone following `freq` (Hz per sample) with odd harmonics (a piezo or a horn), below BAND_TOP_HZ."""
    phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE + rng.uniform(0, 2 * np.pi)
    out = np.zeros_like(phase)
    for n in range(1, 2 * harmonics, 2):
        gain = np.clip((BAND_TOP_HZ - n * freq) / 500.0, 0.0, 1.0)
        out += gain * np.sin(n * phase) / n
    return out


def _envelope(on: np.ndarray, ramp_s: float = 0.005) -> np.ndarray:
    k = max(1, int(ramp_s * SAMPLE_RATE))
    return np.convolve(on.astype(np.float64), np.ones(k) / k, mode="same")


def smoke_alarm(rng: np.random.Generator) -> np.ndarray:
    """T3 (three 0.5 s beeps, 0.5 s apart, then 1.5 s) near 3.1 kHz, or a fast beep train (clock, pager)."""
    n = int(SYNTH_SECONDS * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    f0 = rng.uniform(2800.0, 3600.0) if rng.random() < 0.75 else rng.uniform(1800.0, 4200.0)
    offset = rng.uniform(0.0, 4.0)
    if rng.random() < 0.6:  # T3: period 4 s
        cycle = (t + offset) % 4.0
        on = (cycle < 2.5) & ((cycle % 1.0) < rng.uniform(0.4, 0.6))
    else:  # alarm clock / pager beeps: short beeps in bursts
        beep, period = rng.uniform(0.05, 0.2), rng.uniform(0.15, 0.4)
        on = ((t + offset) % period) < beep
        on &= ((t + offset) % rng.uniform(1.0, 2.0)) < rng.uniform(0.6, 1.0)
    freq = np.full(n, f0) * (1 + 0.003 * np.sin(2 * np.pi * rng.uniform(5, 40) * t))
    return (0.5 * _envelope(on) * _tone(freq, int(rng.integers(1, 4)), rng)).astype(np.float32)


def siren(rng: np.random.Generator) -> np.ndarray:
    """An emergency siren: wail (slow sweep), yelp (fast sweep) or hi-lo (two tones), passing by or not."""
    n = int(SYNTH_SECONDS * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    kind = rng.integers(3)
    low, high = rng.uniform(450.0, 800.0), rng.uniform(1100.0, 1700.0)
    if kind == 0:  # wail
        period = rng.uniform(2.0, 6.0)
        shape = 0.5 - 0.5 * np.cos(2 * np.pi * (t / period + rng.random()))
    elif kind == 1:  # yelp
        period = rng.uniform(0.2, 0.45)
        shape = ((t / period + rng.random()) % 1.0)
    else:  # hi-lo
        period = rng.uniform(0.8, 1.4)
        shape = (((t / period + rng.random()) % 1.0) < 0.5).astype(np.float64)
    freq = low + (high - low) * shape
    level = np.linspace(rng.uniform(0.2, 1.0), rng.uniform(0.2, 1.0), n)  # approaching or leaving
    return (0.5 * level * _tone(freq, int(rng.integers(1, 5)), rng)).astype(np.float32)


# Ring cadences, (on, off) pairs in s: North America 2 on 4 off; UK and others a double ring; a long European ring.
RING_CADENCES = (((2.0, 4.0),), ((0.4, 0.2), (0.4, 2.0)), ((1.0, 4.0),), ((1.5, 3.0),))
BELL_PARTIALS = (1.0, 2.76, 5.40, 8.93)  # a struck circular bell's partials, relative to its lowest


def _cadence(n: int, rng: np.random.Generator) -> np.ndarray:
    """On/off of a random ring cadence over n samples, starting anywhere in its cycle (a ring begins within 1 s)."""
    pattern = RING_CADENCES[int(rng.integers(len(RING_CADENCES)))]
    period = sum(on + off for on, off in pattern)
    t = (np.arange(n) / SAMPLE_RATE + period - rng.uniform(0.0, 1.0)) % period
    on, start = np.zeros(n, bool), 0.0
    for ring, pause in pattern:
        on |= (t >= start) & (t < start + ring)
        start += ring + pause
    return on


def phone_ring(rng: np.random.Generator) -> np.ndarray:
    """A classic telephone: two bells struck alternately ~20 times a second (decaying inharmonic partials), or an
    electronic trill switching between two tones 10-25 times a second, in a ring cadence."""
    n = int(SYNTH_SECONDS * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    on = _cadence(n, rng)
    if rng.random() < 0.5:  # electromechanical bell
        rate = rng.uniform(16.0, 25.0)
        out = np.zeros(n)
        for bell, f0 in enumerate(rng.uniform(700.0, 1400.0, size=2)):
            strikes = np.zeros(n)
            strikes[(np.arange(0, n, SAMPLE_RATE / rate) + bell * SAMPLE_RATE / rate / 2).astype(int) % n] = 1.0
            strikes *= on
            k = np.arange(int(0.4 * SAMPLE_RATE)) / SAMPLE_RATE
            ring = sum(np.sin(2 * np.pi * f0 * r * k) * np.exp(-k * rng.uniform(6.0, 15.0) * r) / r
                       for r in BELL_PARTIALS if f0 * r < BAND_TOP_HZ)
            out += np.fft.irfft(np.fft.rfft(strikes, 2 * n) * np.fft.rfft(ring, 2 * n))[:n]
        out /= max(float(np.abs(out).max()), 1e-9)
    else:  # electronic trill
        low = rng.uniform(900.0, 1600.0)
        high = low * rng.uniform(1.15, 1.4)
        freq = np.where((t * rng.uniform(10.0, 25.0)) % 1.0 < 0.5, low, high)
        out = _envelope(on) * _tone(freq, int(rng.integers(1, 4)), rng)
    return (0.5 * out).astype(np.float32)


SYNTHESIZERS = {"smoke_alarm": smoke_alarm, "siren": siren, "phone_ringing": phone_ring}  # learned class -> synth
