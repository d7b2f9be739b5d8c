"""Smart Turn v3.2 (pipecat, BSD-2-Clause): the probability that a turn is finished, from the sound of its end.

The model takes the Whisper-style log-mel of the last 8 s of a turn (left-padded with zeros), 80 bands x 800 frames,
and returns P(turn complete). The front end is written here in numpy, after the recipe of the wheel's
`_whisper_features.py` (transformers' WhisperFeatureExtractor with chunk_length=8 and do_normalize): the waveform is
normalized to zero mean and unit variance, then a centred 400-point periodic-Hann STFT with a 160-sample hop, the power
on 80 Slaney mel bands from 0 to 8 kHz, log10 floored 8 decades under its peak, scaled as (x + 4) / 4.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE

WINDOW_S = 8  # s of audio the model hears, the end of the turn last
WINDOW_SAMPLES = WINDOW_S * SAMPLE_RATE  # 128000
N_FFT = 400  # 25 ms analysis window
HOP = 160  # 10 ms between frames
N_MELS = 80
MEL_FLOOR = 1e-10  # power floor before the log
DYNAMIC_RANGE_DECADES = 8.0  # log-mel floored this far under its maximum (Whisper's recipe)
NORM_EPS = 1e-7  # variance floor of the waveform normalization
MODEL_FILE = "smart-turn-v3.2-cpu.onnx"


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear to 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    log_part = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) * 27.0 / np.log(6.4)
    return np.where(f >= 1000.0, log_part, 3.0 * f / 200.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((m - 15.0) * np.log(6.4) / 27.0), 200.0 * m / 3.0)


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """[N_FFT // 2 + 1, N_MELS] triangular filters with Slaney area normalization."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    bins = np.linspace(0, SAMPLE_RATE // 2, N_FFT // 2 + 1)
    slopes = edges[None, :] - bins[:, None]
    widths = np.diff(edges)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    return filters * (2.0 / (edges[2:] - edges[:-2]))[None, :]


def last_window(audio: np.ndarray) -> np.ndarray:
    """The last 8 s of `audio` (16 kHz), left-padded with zeros to exactly WINDOW_SAMPLES."""
    x = np.asarray(audio, dtype=np.float32)[-WINDOW_SAMPLES:]
    return np.pad(x, (WINDOW_SAMPLES - len(x), 0))


def features(window: np.ndarray) -> np.ndarray:
    """[80, 800] float32 log-mel of one 8 s window (see the module's docstring)."""
    if window.shape != (WINDOW_SAMPLES,):
        raise ValueError(f"Smart Turn needs {WINDOW_SAMPLES} samples (8 s at 16 kHz), got {window.shape}")
    x = window.astype(np.float32)
    x = (x - x.mean()) / np.sqrt(x.var() + NORM_EPS)
    padded = np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    hann = np.hanning(N_FFT + 1)[:-1]
    power = np.abs(np.fft.rfft(frames * hann, axis=-1)) ** 2
    log_mel = np.log10(np.maximum(power @ mel_filters(), MEL_FLOOR)).T[:, :-1]
    log_mel = np.maximum(log_mel, log_mel.max() - DYNAMIC_RANGE_DECADES)
    return ((log_mel + 4.0) / 4.0).astype(np.float32)


class SmartTurn:
    """One loaded model; stateless (each call hears the whole 8 s it is given)."""

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime as ort

        from listenloop.models import model_file

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_file("smart-turn", MODEL_FILE)), sess_options=options,
                                            providers=["CPUExecutionProvider"])

    def complete(self, audio: np.ndarray) -> float:
        """P(the turn ending at the end of `audio` is finished); `audio` is 16 kHz, the turn's last 8 s are heard."""
        return float(self.complete_many([audio])[0])

    def complete_many(self, audios: list[np.ndarray]) -> np.ndarray:
        batch = np.stack([features(last_window(a)) for a in audios])
        return self.session.run(None, {"input_features": batch})[0][:, 0]
