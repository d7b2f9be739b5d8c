"""The assistant in the stream: instructions, answers to addressed questions only, counting from sound events."""

from __future__ import annotations

import json

import numpy as np
import pytest

from listenloop.audio.decode import load_audio
from listenloop.data.synth import piper, silence
from listenloop.decision.base import Mode
from listenloop.runtime.engine import Engine
from listenloop.runtime.events import DecisionEvent, ResponseEvent, TaskEvent
from listenloop.runtime.session import SessionOptions

CLIP_GAP_S = 1.5  # s of silence between the clips of a sequence.json stream
BLOCK = 8000  # samples per feed() call (any size works)


@pytest.fixture(scope="module")
def engine():
    return Engine()


def run(engine, audio, mode=Mode.ASSISTANT, instruction=None):
    session = engine.session(SessionOptions(mode=mode, instruction=instruction))
    events = []
    for i in range(0, len(audio), BLOCK):
        events += session.feed(audio[i : i + BLOCK])
    return events + session.finish()


def sequence(folder):
    parts = []
    for name in json.loads((folder / "sequence.json").read_text()):
        parts += [load_audio(folder / name), silence(CLIP_GAP_S)]
    return np.concatenate(parts)


def responses(events, task=None):
    return [e for e in events if isinstance(e, ResponseEvent) and (task is None or e.task == task)]


def test_counts_the_barks_from_sound_events_after_a_spoken_instruction(engine, shared_audio):
    events = run(engine, sequence(shared_audio / "streams" / "01_count_bark"))
    tasks = [e for e in events if isinstance(e, TaskEvent) and e.source == "speech"]
    assert tasks and tasks[0].detail["counting"] == "dog"
    answers = responses(events, "answer")
    assert answers and "5 times" in answers[-1].text and answers[-1].extra["count"] == 5
    assert not [r for r in responses(events) if r.label in ("Dog", "Bark")]  # counted, not announced each time


def test_music_question_is_answered_with_a_genre_or_instrument_and_the_cough_gets_concern(engine, shared_audio):
    events = run(engine, load_audio(shared_audio / "streams" / "sample_music.wav"))
    ask = responses(events, "ask")
    assert ask and ask[0].emotion == "concerned"
    answers = responses(events, "answer")
    assert len(answers) == 1
    assert any(word in answers[0].text.lower() for word in ("blues", "jazz", "guitar", "piano", "rock", "country"))


@pytest.fixture(scope="module")
def conversation():
    """A statement, a question, and a question asked quietly in the background (-20 dB): known ends."""
    statement, question, background = (piper(t) for t in (
        "I went to the market yesterday and bought some apples.",
        "What is the tallest mountain in the world?",
        "Where did you put the car keys?",
    ))
    parts = [silence(0.5), statement, silence(2.0), question, silence(6.0), 0.1 * background, silence(3.0)]
    ends = np.cumsum([len(p) for p in parts]) / 16000
    return np.concatenate(parts), {"statement": ends[1], "question": ends[3], "background": ends[5]}


def test_only_the_addressed_question_is_answered_soon_after_it_ends(engine, conversation):
    audio, ends = conversation
    events = run(engine, audio)
    answers = [e for e in events if isinstance(e, DecisionEvent) and e.task == "answer"]
    assert len(answers) == 1, [(e.t, e.reason) for e in answers]
    delay = answers[0].t - ends["question"]
    assert 0.0 < delay <= 1.2  # decided in a chunk just after the question ends (benchmarked in docs)
    answer = responses(events, "answer")[0]
    # Faster than real time the background talk can arrive while the answer is still being written, and barge-in
    # then stops it (marked interrupted); an answer that completed must be right.
    assert answer.interrupted or "everest" in answer.text.lower()


def test_control_instruction_changes_the_task_and_transcription_mode_stays_as_it_was(engine):
    session = engine.session(SessionOptions(mode=Mode.TRANSCRIBE))
    events = session.feed(silence(1.0))
    assert not [e for e in events if isinstance(e, TaskEvent)]  # transcription mode: no new events at start
    session.instruct("translate everything into Spanish")
    with pytest.raises(ValueError, match="not an instruction"):
        session.instruct("what a lovely day")
    events = session.feed(silence(0.8)) + session.finish()
    changes = [e for e in events if isinstance(e, TaskEvent)]
    assert [(c.mode, c.detail["language"], c.source) for c in changes] == [("translate", "es", "control")]
