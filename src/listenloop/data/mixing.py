"""Signal operations of the stream builder: levels, room distance, telephone band, noise at an SNR, FLAC out.

All signals are 16 kHz mono float32. Randomness comes only from the generator passed in (determinism per seed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soxr

from listenloop.audio.constants import PCM16_FULL_SCALE, SAMPLE_RATE

NEAR_LEVEL_DBFS = -22.0  # RMS of speech addressed to the assistant (a talker near the microphone)
FAR_LEVEL_DROP_DB = (8.0, 16.0)  # how much quieter speech across the room is (crosstalk, television)
SOUND_LEVEL_DBFS = (-30.0, -16.0)  # RMS range of sound events
FLOOR_LEVEL_DBFS = (-62.0, -48.0)  # the room's noise floor, always present: real streams are never digital zero
TELEPHONE_RATE = 8_000  # Hz, narrowband telephone
TELEPHONE_BAND_HZ = (300.0, 3400.0)  # passband of a telephone channel
MU_LAW = 255.0  # G.711 mu-law companding constant
PEAK_LIMIT = 0.98  # the stream is scaled down when a mix would clip


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def active_rms(x: np.ndarray, frame: int = SAMPLE_RATE // 50) -> float:
    """RMS over the loudest half of 20 ms frames: the level of the signal where it is active."""
    n = len(x) // frame
    if n == 0:
        return rms(x)
    energy = np.mean(np.square(x[: n * frame].reshape(n, frame), dtype=np.float64), axis=1)
    top = np.sort(energy)[n // 2 :]
    return float(np.sqrt(np.mean(top)))


def set_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    """Scale x so that its active RMS is `dbfs`."""
    level = active_rms(x)
    if level <= 1e-9:
        return x.astype(np.float32)
    return (x * (10 ** (dbfs / 20) / level)).astype(np.float32)


def _fft_filter(x: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """Brick-wall band-pass in the frequency domain (fine for whole clips; no streaming needed here)."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1.0 / SAMPLE_RATE)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0
    return np.fft.irfft(spectrum, len(x)).astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise, unit RMS: a neutral room and ventilation floor."""
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(white)
    f = np.fft.rfftfreq(n)
    f[0] = f[1] if n > 1 else 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(f), n)
    return (noise / (rms(noise) + 1e-12)).astype(np.float32)


def room(x: np.ndarray, rng: np.random.Generator, rt60_s: float) -> np.ndarray:
    """Distant-talker colouring: convolve with an exponentially decaying noise tail of reverberation time rt60."""
    length = int(rt60_s * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    tail = rng.standard_normal(length) * np.exp(-6.9 * t / rt60_s)  # -60 dB at rt60
    tail[0] = 1.0 / 0.3  # direct path stronger than the first reflections
    wet = np.convolve(x, tail)[: len(x)]
    return (wet * (rms(x) / (rms(wet) + 1e-12))).astype(np.float32)


def loudspeaker(x: np.ndarray) -> np.ndarray:
    """A small television speaker: no deep bass, no top end."""
    return _fft_filter(x, 180.0, 6000.0)


def telephone(x: np.ndarray) -> np.ndarray:
    """A narrowband call: 300-3400 Hz, 8 kHz sampling, 8-bit mu-law, back to 16 kHz."""
    band = _fft_filter(x, *TELEPHONE_BAND_HZ)
    narrow = soxr.resample(band, SAMPLE_RATE, TELEPHONE_RATE)
    peak = max(float(np.max(np.abs(narrow))), 1e-9)
    scale = min(1.0, PEAK_LIMIT / peak)
    y = narrow * scale
    companded = np.sign(y) * np.log1p(MU_LAW * np.abs(y)) / np.log1p(MU_LAW)
    quantized = np.round(companded * 127) / 127
    expanded = np.sign(quantized) * ((1 + MU_LAW) ** np.abs(quantized) - 1) / MU_LAW
    back = soxr.resample(expanded.astype(np.float32), TELEPHONE_RATE, SAMPLE_RATE)[: len(x)] / scale
    return np.pad(back, (0, len(x) - len(back))).astype(np.float32)


def loop_to(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """x repeated (from a random offset) to exactly n samples."""
    if len(x) == 0:
        return np.zeros(n, dtype=np.float32)
    start = int(rng.integers(0, len(x)))
    reps = (n + start) // len(x) + 1
    return np.tile(x, reps)[start : start + n].astype(np.float32)


def mix_at_snr(signal_level: float, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Noise scaled so that signal_level (RMS, linear) over the noise's RMS is snr_db."""
    target = signal_level / (10 ** (snr_db / 20))
    return (noise * (target / (rms(noise) + 1e-12))).astype(np.float32)


def loudest_excerpt(x: np.ndarray, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """An excerpt of `seconds` around one of the loudest moments (sound files often start quietly)."""
    n = int(seconds * SAMPLE_RATE)
    if len(x) <= n:
        return x
    frame = SAMPLE_RATE // 10
    energy = np.convolve(np.square(x), np.ones(frame) / frame, mode="valid")
    candidates = np.argsort(energy)[-20:]
    centre = int(candidates[int(rng.integers(0, len(candidates)))])
    start = int(np.clip(centre - n // 3, 0, len(x) - n))
    return x[start : start + n]


def fade(x: np.ndarray, seconds: float = 0.01) -> np.ndarray:
    """Short linear fades at both ends, so a cut clip does not click."""
    n = min(int(seconds * SAMPLE_RATE), len(x) // 2)
    if n == 0:
        return x
    y = x.copy()
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    y[:n] *= ramp
    y[-n:] *= ramp[::-1]
    return y


def write_flac(path: str | Path, samples: np.ndarray) -> None:
    """16-bit FLAC at 16 kHz (lossless for what the engine reads)."""
    import av

    pcm = np.clip(samples, -1.0, 1.0 - 1.0 / PCM16_FULL_SCALE)
    ints = (pcm * PCM16_FULL_SCALE).astype(np.int16).reshape(1, -1)
    with av.open(str(path), mode="w", format="flac") as container:
        stream = container.add_stream("flac", rate=SAMPLE_RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(ints, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
