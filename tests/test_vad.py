"""Silero voice activity: streaming equals offline, speech is found where it is and nowhere else."""

from __future__ import annotations

import numpy as np
import pytest

from listenloop.audio.chunker import Chunker
from listenloop.audio.constants import SAMPLE_RATE
from listenloop.bench.corpus import speech_bounds
from listenloop.perception.vad import MIN_SILENCE_S, SileroVad
from listenloop.synthesis.synth import silence

STREAMING_TOLERANCE = 1e-5  # max |p_stream - p_offline|: the same windows in the same order, batched differently


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


def runs(vad: SileroVad, audio: np.ndarray) -> list[tuple[float, float | None]]:
    """(start, end) of every run of speech, streaming chunk by chunk."""
    state, chunker, out = vad.init_state(), Chunker(), []
    for chunk in chunker.push(audio) + chunker.flush():
        result = vad.step(chunk, state)
        if result.ended_at is not None and out and out[-1][1] is None:
            out[-1] = (out[-1][0], result.ended_at)
        if result.started_at is not None:
            out.append((result.started_at, None))
    return out


def test_streaming_in_odd_blocks_equals_offline(vad, speech_question):
    audio = np.concatenate([silence(0.3), speech_question, silence(0.7)])
    state, rng, pieces, i = vad.init_state(), np.random.default_rng(7), [], 0
    while i < len(audio):
        n = int(rng.integers(1, 3000))  # blocks that never line up with 512-sample windows
        pieces.append(vad.probs(audio[i : i + n], state))
        i += n
    streamed, offline = np.concatenate(pieces), vad.offline_probs(audio)
    assert len(streamed) == len(offline) == len(audio) // 512
    assert np.abs(streamed - offline).max() <= STREAMING_TOLERANCE


def test_speech_is_found_where_it_is(vad, speech_question):
    lead = 0.5
    audio = np.concatenate([silence(lead), speech_question, silence(1.0)])
    found = runs(vad, audio)
    assert found, "no speech detected in synthesized speech"
    assert lead - 0.1 <= found[0][0] <= lead + 0.4
    assert found[-1][1] is not None and found[-1][1] >= lead + len(speech_question) / SAMPLE_RATE - 0.6


def test_silence_and_low_noise_are_not_speech(vad):
    noise = np.random.default_rng(0).normal(0, 0.003, SAMPLE_RATE * 4).astype(np.float32)
    assert runs(vad, silence(4.0)) == []
    assert runs(vad, noise) == []


def test_a_short_pause_does_not_end_speech_but_a_long_one_does(vad, speech_question):
    t0, t1 = speech_bounds(speech_question)  # espeak pads its output with silence: cut it to the voice
    speech_question = speech_question[int(t0 * SAMPLE_RATE) : int(t1 * SAMPLE_RATE)]
    short = np.concatenate([silence(0.3), speech_question, silence(MIN_SILENCE_S / 2), speech_question, silence(1)])
    long = np.concatenate([silence(0.3), speech_question, silence(1.0), speech_question, silence(1.0)])
    assert len(runs(vad, long)) == len(runs(vad, speech_question)) + len(runs(vad, speech_question))
    assert len(runs(vad, short)) < len(runs(vad, long))


def test_reset_forgets_the_stream(vad, speech_question):
    state = vad.init_state()
    vad.step(speech_question[:12345], state)
    state.reset()
    again = vad.probs(speech_question, state)
    assert np.array_equal(again, vad.offline_probs(speech_question))


def test_hearing_part_of_a_chunk_ahead_changes_nothing_the_chunk_reports(vad, speech_question):
    """`peek` on a live source's 0.1 s blocks, then `step` on the completed chunk: the same windows, probabilities
    and speech runs as `step` on whole chunks."""
    audio = np.concatenate([silence(0.3), speech_question, silence(1.0)])
    whole, ahead = vad.init_state(), vad.init_state()
    reported, peeked = [], []
    for chunk in Chunker().push(audio):
        expected = vad.step(chunk, whole)
        for i in range(0, 4800, 1600):  # three 0.1 s blocks heard before the chunk is complete
            probs, first = vad.peek(chunk.samples[i : i + 1600], ahead)
            peeked.append((first, probs))
        got = vad.step(chunk, ahead)
        reported.append((expected, got))
    for expected, got in reported:
        assert got.first_window == expected.first_window
        assert np.array_equal(got.probs, expected.probs)
        assert (got.started_at, got.ended_at, got.speech) == (expected.started_at, expected.ended_at, expected.speech)
    assert any(r[1].started_at is not None for r in reported) and any(r[1].ended_at is not None for r in reported)
    windows = [first + k for first, probs in peeked for k in range(len(probs))]
    assert windows == sorted(set(windows)), "peeked windows are numbered in stream order, each once"
