"""The chunker: exactly 6400 samples per chunk, in order, nothing lost, whatever the block sizes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from listenloop.audio.chunker import Chunker
from listenloop.audio.constants import CHUNK_SECONDS, SAMPLES_PER_CHUNK


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=3 * SAMPLES_PER_CHUNK + 7), max_size=30))
def test_any_block_sizes_give_exact_chunks_carrying_the_remainder(sizes):
    total = sum(sizes)
    signal = np.arange(total, dtype=np.float32)
    chunker = Chunker()
    chunks, offset = [], 0
    for n in sizes:
        chunks += chunker.push(signal[offset : offset + n])
        offset += n
    assert len(chunks) == total // SAMPLES_PER_CHUNK
    assert chunker.pending_samples == total % SAMPLES_PER_CHUNK
    for i, chunk in enumerate(chunks):
        assert chunk.index == i
        assert len(chunk.samples) == SAMPLES_PER_CHUNK
        np.testing.assert_array_equal(chunk.samples, signal[i * SAMPLES_PER_CHUNK : (i + 1) * SAMPLES_PER_CHUNK])
        assert abs(chunk.t1 - (i + 1) * CHUNK_SECONDS) < 1e-9


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=SAMPLES_PER_CHUNK - 1))
def test_flush_pads_the_remainder_into_one_last_chunk(n):
    chunker = Chunker()
    assert chunker.push(np.ones(n, dtype=np.float32)) == []
    (last,) = chunker.flush()
    assert last.samples[:n].sum() == n and not last.samples[n:].any()
    assert chunker.flush() == []


def test_chunks_do_not_alias_the_callers_buffer():
    buf = np.ones(SAMPLES_PER_CHUNK, dtype=np.float32)
    (chunk,) = Chunker().push(buf)
    buf[:] = 0
    assert chunk.samples.sum() == SAMPLES_PER_CHUNK


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2 * SAMPLES_PER_CHUNK + 7), max_size=30))
def test_samples_handed_ahead_of_their_chunk_come_once_and_in_order(sizes):
    """take_ahead() after each push returns exactly the samples of the incomplete chunk not returned before."""
    signal = np.arange(sum(sizes), dtype=np.float32)
    chunker, offset, ahead = Chunker(), 0, []
    for n in sizes:
        for chunk in chunker.push(signal[offset : offset + n]):
            ahead = [a for a in ahead if a >= (chunk.index + 1) * SAMPLES_PER_CHUNK]  # now inside a chunk
        offset += n
        fresh = chunker.take_ahead()
        assert len(set(fresh.tolist()) & set(ahead)) == 0, "a sample handed out twice"
        ahead += fresh.tolist()
        start = chunker.chunks_emitted * SAMPLES_PER_CHUNK
        assert ahead == signal[start:offset].tolist()
