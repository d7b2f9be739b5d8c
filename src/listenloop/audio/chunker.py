"""Cut a stream of samples of any block size into exact 0.4 s chunks, carrying the remainder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK


@dataclass(frozen=True)
class Chunk:
    index: int  # 0-based position in the stream
    samples: np.ndarray  # float32 mono 16 kHz, exactly SAMPLES_PER_CHUNK long
    arrived: float = field(default_factory=time.perf_counter)  # wall clock (perf_counter) when complete

    @property
    def t0(self) -> float:
        """Stream time (s) of the chunk's first sample."""
        return self.index * SAMPLES_PER_CHUNK / SAMPLE_RATE

    @property
    def t1(self) -> float:
        """Stream time (s) just after the chunk's last sample: the moment its decision is due."""
        return (self.index + 1) * SAMPLES_PER_CHUNK / SAMPLE_RATE


class Chunker:
    """Accepts blocks of any length; yields every complete chunk in order. Per-stream state."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)
        self._next_index = 0
        self._handed_ahead = 0  # samples of _pending already returned by take_ahead()

    @property
    def pending_samples(self) -> int:
        return len(self._pending)

    def take_ahead(self) -> np.ndarray:
        """The samples of the next, incomplete chunk that arrived since the last call (each sample once), so a
        live source's small blocks can be heard before their chunk is complete."""
        fresh = self._pending[self._handed_ahead :].copy()
        self._handed_ahead = len(self._pending)
        return fresh

    @property
    def chunks_emitted(self) -> int:
        return self._next_index

    def push(self, samples: np.ndarray) -> list[Chunk]:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        buffer = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        n_full = len(buffer) // SAMPLES_PER_CHUNK
        now = time.perf_counter()
        chunks = []
        for i in range(n_full):
            block = buffer[i * SAMPLES_PER_CHUNK : (i + 1) * SAMPLES_PER_CHUNK].copy()
            chunks.append(Chunk(self._next_index, block, now))
            self._next_index += 1
        self._pending = buffer[n_full * SAMPLES_PER_CHUNK :].copy()
        if n_full:
            self._handed_ahead = 0  # the samples handed ahead are now inside an emitted chunk
        return chunks

    def flush(self) -> list[Chunk]:
        """Pad the remainder with silence into a last chunk (nothing if there is no remainder)."""
        if not len(self._pending):
            return []
        pad = np.zeros(SAMPLES_PER_CHUNK - len(self._pending), dtype=np.float32)
        return self.push(pad)
