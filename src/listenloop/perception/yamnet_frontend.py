"""YAMNet's log-mel front end in numpy, and the quantization of the int8 graph's input and output.

The recipe is YAMNet's published one (tensorflow/models research/audioset/yamnet, features.py): 25 ms periodic
Hann window in a 512-point FFT, 10 ms hop, magnitude spectrum, 64 HTK mel bands from 125 to 7500 Hz (the DC bin
carries no weight), log(mel + 0.001), patches of 96 frames (0.96 s). No torch and no TensorFlow are needed.
"""

from __future__ import annotations

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE

WINDOW_SAMPLES = SAMPLE_RATE * 25 // 1000  # 400 samples = 25 ms analysis window
HOP_SAMPLES = SAMPLE_RATE * 10 // 1000  # 160 samples = 10 ms frame hop
FFT_SIZE = 512  # next power of two above the window
MEL_BANDS = 64
MEL_LOW_HZ = 125.0
MEL_HIGH_HZ = 7500.0
LOG_OFFSET = 0.001  # added to the mel energy before the log, as in YAMNet
PATCH_FRAMES = 96  # frames per model input (0.96 s)
PATCH_SAMPLES = WINDOW_SAMPLES + HOP_SAMPLES * (PATCH_FRAMES - 1)  # 15600 samples = 0.975 s of audio per patch
PATCH_SECONDS = PATCH_SAMPLES / SAMPLE_RATE  # 0.975 s

# Quantization, read from the graph itself (QuantizeLinear/DequantizeLinear initializers of YamNet_w8a8.onnx):
# input  'audio'        : x = INPUT_SCALE * (q - INPUT_ZERO_POINT), uint8, so log-mel spans -6.90 .. 5.32
# output 'class_scores' : logit = OUTPUT_SCALE * (q - OUTPUT_ZERO_POINT), uint8; score = sigmoid(logit)
INPUT_SCALE = 0.04793788
INPUT_ZERO_POINT = 144
OUTPUT_SCALE = 0.7565417
OUTPUT_ZERO_POINT = 190

_HTK_BREAK_HZ = 700.0
_HTK_Q = 1127.0


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return _HTK_Q * np.log1p(np.asarray(hz, dtype=np.float64) / _HTK_BREAK_HZ)


def mel_matrix() -> np.ndarray:
    """[257, 64] triangular HTK mel weights, as tf.signal.linear_to_mel_weight_matrix builds them."""
    n_bins = FFT_SIZE // 2 + 1
    bin_mel = _hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, n_bins))
    edges = np.linspace(_hz_to_mel(MEL_LOW_HZ), _hz_to_mel(MEL_HIGH_HZ), MEL_BANDS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel[:, None] - lower) / (center - lower)
    falling = (upper - bin_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # the DC bin is excluded (tf's bands_to_zero = 1)
    return weights.astype(np.float32)


_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW_SAMPLES) / WINDOW_SAMPLES)).astype(np.float32)
_MEL = mel_matrix()


def mel_energy(samples: np.ndarray) -> np.ndarray:
    """[frames, 64] linear mel magnitudes of 16 kHz float32 audio; one frame per 10 ms hop, no padding."""
    samples = np.asarray(samples, dtype=np.float32)
    n_frames = 1 + (len(samples) - WINDOW_SAMPLES) // HOP_SAMPLES if len(samples) >= WINDOW_SAMPLES else 0
    if n_frames <= 0:
        return np.zeros((0, MEL_BANDS), dtype=np.float32)
    starts = np.arange(n_frames) * HOP_SAMPLES
    frames = samples[starts[:, None] + np.arange(WINDOW_SAMPLES)] * _WINDOW
    magnitude = np.abs(np.fft.rfft(frames, n=FFT_SIZE, axis=1)).astype(np.float32)
    # einsum, not `@`: a BLAS call this small is slower than the loop, and BLAS threads stall on a busy machine
    return np.einsum("fk,km->fm", magnitude, _MEL).astype(np.float32)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """[frames, 64] log-mel frames (YAMNet's input features)."""
    return to_log(mel_energy(samples))


def to_log(mel: np.ndarray) -> np.ndarray:
    return np.log(mel + LOG_OFFSET).astype(np.float32)


FLOOR_FRAMES = 300  # 3 s: the stationary background of a band is its minimum over this many frames


def subtract_floor(mel: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Linear mel frames minus each band's running minimum over the last FLOOR_FRAMES (causal; `before` holds the
    FLOOR_FRAMES - 1 frames that precede `mel`). Removes a stationary background such as rain (optional)."""
    ext = np.concatenate([before, mel])
    floor = np.lib.stride_tricks.sliding_window_view(ext, FLOOR_FRAMES, axis=0).min(axis=-1)
    return np.maximum(mel - floor[-len(mel) :], 0.0)


def quantize_patch(patch: np.ndarray) -> np.ndarray:
    """[96, 64] (or [n, 96, 64]) float log-mel -> the graph's uint8 input [1, 1, 96, 64] (or [n, 1, 96, 64])."""
    q = np.rint(patch / INPUT_SCALE + INPUT_ZERO_POINT)
    return np.clip(q, 0, 255).astype(np.uint8).reshape(-1, 1, PATCH_FRAMES, MEL_BANDS)


def dequantize_scores(q: np.ndarray) -> np.ndarray:
    """The graph's uint8 logits -> float32 scores in 0..1, in the logits' shape."""
    logits = OUTPUT_SCALE * (q.astype(np.float64) - OUTPUT_ZERO_POINT)
    return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
