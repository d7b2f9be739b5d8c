"""Decode any common audio file (wav, flac, mp3, ogg, m4a/aac, ...) to 16 kHz mono float32, with soxr."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soxr

from listenloop.audio.constants import PCM16_FULL_SCALE, SAMPLE_RATE

DECODE_BLOCK_SECONDS = 10.0  # s of output per block when streaming a long file


class AudioError(ValueError):
    """The input is not usable audio; the message is one clear line for the user."""


def to_mono(samples: np.ndarray) -> np.ndarray:
    """[n] or [n, channels] -> [n] float32 (channel mean)."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return np.ascontiguousarray(samples.reshape(-1), dtype=np.float32)


def resample(samples: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """One-shot, high-quality resampling of a whole mono signal."""
    if rate_in <= 0:
        raise AudioError(f"sample rate must be positive, got {rate_in}")
    if rate_in == rate_out or not len(samples):
        return np.asarray(samples, dtype=np.float32)
    return soxr.resample(np.asarray(samples, dtype=np.float32), rate_in, rate_out, quality="HQ").astype(np.float32)


class StreamResampler:
    """Incremental resampling for live sources (stdin, microphone, socket); state per stream."""

    def __init__(self, rate_in: int, channels: int = 1, rate_out: int = SAMPLE_RATE) -> None:
        if rate_in <= 0 or channels <= 0:
            raise AudioError(f"rate and channels must be positive (rate={rate_in}, channels={channels})")
        self.channels = channels
        self._passthrough = rate_in == rate_out
        self._rs = None if self._passthrough else soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32")

    def process(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        mono = to_mono(np.asarray(samples, dtype=np.float32).reshape(-1, self.channels))
        if self._passthrough:
            return mono
        return self._rs.resample_chunk(mono, last=last)


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Little-endian signed 16-bit PCM bytes -> float32 in [-1, 1). An odd trailing byte is an error."""
    if len(data) % 2:
        raise AudioError(f"PCM16 data must have an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / PCM16_FULL_SCALE


def float_to_pcm16(samples: np.ndarray) -> bytes:
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0 - 1.0 / PCM16_FULL_SCALE)
    return (clipped * PCM16_FULL_SCALE).astype("<i2").tobytes()


def _frame_samples(frame) -> np.ndarray:
    """An audio frame as float32 [n, channels] in [-1, 1], whatever its sample format."""
    raw = frame.to_ndarray()  # planar: [channels, n]; packed: [1, n * channels]
    channels = len(frame.layout.channels)
    raw = raw.T if frame.format.is_planar else raw.reshape(-1, channels)
    if raw.dtype == np.uint8:
        return (raw.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(raw.dtype, np.integer):
        return raw.astype(np.float32) / float(np.iinfo(raw.dtype).max + 1)
    return raw.astype(np.float32)


def _open(path: Path):
    import av

    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty")
    try:
        container = av.open(str(path))
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as e:
        raise AudioError(f"{path}: not a readable audio file ({type(e).__name__})") from None
    if not container.streams.audio:
        container.close()
        raise AudioError(f"{path}: contains no audio stream")
    return container


def iter_audio(path: str | Path, block_seconds: float = DECODE_BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """Decode a file incrementally into 16 kHz mono float32 blocks: memory stays flat for hour-long files.

    Raises AudioError (one clear line) for missing, empty, corrupt or non-audio files. A file truncated
    mid-stream yields what could be decoded and then stops.
    """
    import av

    path = Path(path)
    container = _open(path)
    stream = container.streams.audio[0]
    resampler = None  # created from the first frame: its rate and layout are the truth
    block: list[np.ndarray] = []
    block_len = 0
    target = int(block_seconds * SAMPLE_RATE)
    decoded_any = False
    try:
        try:
            for frame in container.decode(stream):
                data = _frame_samples(frame)
                if resampler is None:
                    resampler = StreamResampler(frame.sample_rate, 1)
                out = resampler.process(to_mono(data))
                decoded_any = decoded_any or data.size > 0
                if len(out):
                    block.append(out)
                    block_len += len(out)
                if block_len >= target:
                    yield np.concatenate(block)
                    block, block_len = [], 0
        except av.error.FFmpegError:
            if not decoded_any:
                raise AudioError(f"{path}: audio data is corrupt and could not be decoded") from None
            # truncated or damaged tail: keep what was decoded
        if resampler is not None:
            tail = resampler.process(np.zeros(0, dtype=np.float32), last=True)
            if len(tail):
                block.append(tail)
        if block:
            yield np.concatenate(block)
        if not decoded_any:
            raise AudioError(f"{path}: contains no decodable audio samples")
    finally:
        container.close()


def load_audio(path: str | Path) -> np.ndarray:
    """The whole file as 16 kHz mono float32."""
    blocks = list(iter_audio(path))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
