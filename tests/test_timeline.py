"""A file gets the answers a live session would give: a response in flight keeps the stream to the wall clock's pace
(runtime/timeline.py, docs/events.md "Timeline")."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.sources import FILE_BLOCK_SECONDS, paced
from listenloop.runtime.events import ResponseEvent
from listenloop.runtime.session import SessionOptions
from listenloop.runtime.timeline import Timeline
from listenloop.synthesis.synth import piper, silence

QUESTIONS = ("What is the capital of France?", "How many days are there in a week?")
GAP_S = 3.0  # s between the questions (the case), longer where this machine needs longer for one answer
SLOW_MACHINE_FACTOR = 1.5  # the gap is at least this many times one answer's measured duration (a loaded CPU)


def test_nothing_in_flight_lets_the_stream_run_free():
    timeline = Timeline()
    assert timeline.hold(100.0) < 0.01


def test_a_response_in_flight_holds_the_stream_to_the_wall_clock_until_it_ends():
    timeline = Timeline()
    timeline.started(t=10.0, wall=time.perf_counter())
    assert timeline.hold(10.2) >= 0.15  # 0.2 s of stream after the decision waits for 0.2 s of wall time
    threading.Timer(0.3, timeline.ended).start()
    waited = timeline.hold(60.0)  # far ahead: waits until the response ends, not 50 s
    assert 0.2 <= waited < 2.0
    assert timeline.hold(120.0) < 0.01  # nothing in flight any more


def test_spoken_output_holds_the_stream_until_the_stream_reaches_its_end():
    timeline = Timeline()
    timeline.started(t=0.0, wall=time.perf_counter())
    timeline.speaking_until(0.5)
    timeline.ended()
    assert timeline.hold(0.4) > 0.3  # the sentence still plays at 0.4 s
    assert timeline.hold(5.0) < 0.01  # past its end: free again


@pytest.fixture(scope="module")
def engine():
    from listenloop.runtime.engine import Engine

    return Engine()


@pytest.fixture(scope="module")
def two_questions(engine) -> np.ndarray:
    """Two questions (piper) GAP_S apart, or more on a machine where one answer takes longer than that (then a live
    session would rightly be interrupted too), then a long enough silence for the second answer."""
    first, second = (piper(q) for q in QUESTIONS)
    engine.llm()  # loaded before any run: loading is not part of an answer's time
    alone = answers(engine, file_blocks(np.concatenate([silence(0.5), first, silence(3.0)])))
    gap = max(GAP_S, SLOW_MACHINE_FACTOR * alone[0].duration_ms / 1000.0)
    return np.concatenate([silence(0.5), first, silence(gap), second, silence(max(3.0, gap))])


def answers(engine, blocks) -> list[ResponseEvent]:
    session = engine.session(SessionOptions())
    events = []
    for block in blocks:
        events += session.feed(block)
    events += session.finish()
    return [e for e in events if isinstance(e, ResponseEvent) and e.task == "answer"]


def file_blocks(audio: np.ndarray):
    size = int(FILE_BLOCK_SECONDS * SAMPLE_RATE)
    return (audio[i : i + size] for i in range(0, len(audio), size))


def test_a_file_gets_the_whole_answers_a_live_session_gives(engine, two_questions):
    from_file = answers(engine, file_blocks(two_questions))
    live = answers(engine, paced(file_blocks(two_questions)))
    for got in (from_file, live):
        assert len(got) == 2, [(a.text, a.interrupted) for a in got]
        assert not [a for a in got if a.interrupted], [(a.text, a.interrupted) for a in got]
    assert [a.extra.get("question") for a in from_file] == [a.extra.get("question") for a in live]
    assert "paris" in from_file[0].text.lower(), from_file[0].text


def test_barge_in_cuts_spoken_output_where_the_user_spoke_and_an_alert_goes_on(tmp_path):
    from listenloop.runtime.control import Control, ControlKind
    from listenloop.runtime.events import ResponseDeltaEvent, ResponseStartEvent
    from listenloop.runtime.speech import Speaker

    def say(speaker, rid, task, text):
        speaker.observe(ResponseStartEvent(rid, 1.0, task, "normal"))
        speaker.observe(ResponseDeltaEvent(rid, text))
        speaker.observe(ResponseEvent(rid, 1.0, task, text, 10.0))
        speaker._queue.join()  # the real piper voice synthesized it

    timeline, emitted = Timeline(), []
    speaker = Speaker(emitted.append, tmp_path / "answer.wav", timeline=timeline)  # --speak-to keeps what is said
    say(speaker, "r1", "answer", "The capital of France is Paris. It is on the Seine.")
    start = speaker._placed[0].t
    assert timeline.speaking_at(start + 0.5)
    speaker.apply(Control(ControlKind.BARGE_IN, start + 0.5))  # the user spoke half a second into the answer
    assert sum(len(p.samples) for p in speaker._placed) / SAMPLE_RATE <= 0.5 + 1e-3
    assert not timeline.speaking_at(start + 0.6)  # nothing said after the cut, nothing holds the stream

    alerting = Speaker(emitted.append, tmp_path / "alert.wav", timeline=Timeline())
    say(alerting, "r2", "alert", "Smoke alarm! Please check the kitchen.")
    spoken = sum(len(p.samples) for p in alerting._placed)
    alerting.apply(Control(ControlKind.BARGE_IN, alerting._placed[0].t + 0.3))
    assert sum(len(p.samples) for p in alerting._placed) == spoken  # an urgent alert is said to the end
