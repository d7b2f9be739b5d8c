"""Where audio comes from: files (any format), raw PCM16 on stdin, the microphone; optional real-time pacing."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from listenloop.audio.constants import PCM16_BYTES_PER_SAMPLE, SAMPLE_RATE
from listenloop.audio.decode import AudioError, StreamResampler, iter_audio, pcm16_to_float

FILE_BLOCK_SECONDS = 2.0  # s per block read from a file (bounded memory, prompt progress)
STDIN_READ_BYTES = 8192  # bytes per read from a pipe
MIC_BLOCK_SECONDS = 0.1  # s per microphone callback block
LIVE_BLOCK_SECONDS = MIC_BLOCK_SECONDS  # s per block when a file is paced as a live source


def file_blocks(path: str | Path) -> Iterator[np.ndarray]:
    yield from iter_audio(path, block_seconds=FILE_BLOCK_SECONDS)


def pcm_blocks(stream: BinaryIO, rate: int = SAMPLE_RATE, channels: int = 1) -> Iterator[np.ndarray]:
    """Raw little-endian PCM16 (interleaved when channels > 1), resampled to 16 kHz mono."""
    resampler = StreamResampler(rate, channels)
    frame_bytes = PCM16_BYTES_PER_SAMPLE * channels
    carry = b""
    while data := stream.read(STDIN_READ_BYTES):
        data = carry + data
        usable = len(data) - len(data) % frame_bytes
        carry = data[usable:]
        if usable:
            yield resampler.process(pcm16_to_float(data[:usable]))
    if carry:
        print(f"listenloop: dropped {len(carry)} trailing bytes (an incomplete PCM frame)", file=sys.stderr)
    tail = resampler.process(np.zeros(0, dtype=np.float32), last=True)
    if len(tail):
        yield tail


def paced(blocks: Iterator[np.ndarray], speed: float = 1.0) -> Iterator[np.ndarray]:
    """Release blocks no faster than real time (times `speed`), in the small blocks a live source delivers."""
    start = time.perf_counter()
    sent = 0
    size = int(LIVE_BLOCK_SECONDS * SAMPLE_RATE)
    for block in blocks:
        for i in range(0, len(block), size):
            piece = block[i : i + size]
            sent += len(piece)
            due = start + sent / SAMPLE_RATE / speed
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            yield piece


def microphone_blocks(device: str | int | None = None) -> Iterator[np.ndarray]:
    """Live microphone audio (sounddevice), 16 kHz mono float32 blocks; stops on Ctrl-C."""
    try:
        import sounddevice as sd
    except ImportError as e:
        raise AudioError("microphone input needs sounddevice: pip install 'listenloop[mic]'") from e
    except OSError as e:  # PortAudio library missing
        raise AudioError(f"microphone input needs PortAudio ({e}); on Debian: apt-get install libportaudio2") from e
    try:
        info = sd.query_devices(device, "input")
    except (ValueError, sd.PortAudioError) as e:
        raise AudioError(f"no microphone available ({e}). Use `listenloop run FILE` or `run -` for piped PCM.") from e
    rate = int(info["default_samplerate"])
    resampler = StreamResampler(rate, 1)
    import queue

    blocks: queue.Queue[np.ndarray] = queue.Queue()
    with sd.InputStream(device=device, channels=1, samplerate=rate, dtype="float32",
                        blocksize=int(rate * MIC_BLOCK_SECONDS), callback=lambda d, *_: blocks.put(d.copy())):
        while True:
            yield resampler.process(blocks.get().reshape(-1))
