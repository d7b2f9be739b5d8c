"""Write test audio into any container/codec with PyAV, so format tests need no file from outside."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

# container suffix -> (codec, sample format)
CODECS = {
    ".wav": ("pcm_s16le", "s16"),
    ".flac": ("flac", "s16"),
    ".mp3": ("libmp3lame", "fltp"),
    ".ogg": ("libopus", "flt"),
    ".m4a": ("aac", "fltp"),
}


def write_audio(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> Path:
    """samples: [n] mono float32, duplicated across `channels`."""
    codec, fmt = CODECS[path.suffix]
    if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
        import soxr

        samples, rate = soxr.resample(samples, rate, 48000).astype(np.float32), 48000
    layout = "mono" if channels == 1 else "stereo"
    data = np.repeat(samples[None, :].astype(np.float32), channels, axis=0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        planar = fmt.endswith("p")
        frame_size = stream.codec_context.frame_size or 1024
        for i in range(0, data.shape[1], frame_size):
            block = data[:, i : i + frame_size]
            if fmt.startswith("s16"):
                block = (np.clip(block, -1, 1 - 1 / 32768) * 32768).astype(np.int16)
            arr = block if planar else block.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=fmt, layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def tone(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
