"""One per-stream state with one reset (runtime/stream_state.py): a session reset in the middle of a stream decides
the next stream exactly as a fresh session does."""

from __future__ import annotations

import numpy as np
import pytest

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.decode import load_audio
from listenloop.runtime.engine import Engine
from listenloop.runtime.events import DecisionEvent, SummaryEvent, TaskEvent, TranscriptEvent
from listenloop.runtime.session import SessionOptions
from listenloop.vocabulary import Mode

BLOCK = 4000  # samples per feed (0.25 s), as a live source would deliver them
LATE_S = 8  # s of silence before the first stream of the speaking test: its speech ends late


@pytest.fixture(scope="module")
def engine():
    engine = Engine()
    yield engine
    engine.close()


def feed(session, audio) -> list:
    events = []
    for i in range(0, len(audio), BLOCK):
        events += session.feed(audio[i : i + BLOCK])
    return events


def heard(events: list) -> dict[str, list]:
    """What decides and is reported per chunk, without wall-clock fields."""
    return {"decisions": [(e.chunk, e.action, e.task, e.reason) for e in events if isinstance(e, DecisionEvent)],
            "tasks": [(e.t, e.mode, e.detail, e.source) for e in events if isinstance(e, TaskEvent)],
            "finals": [(e.t0, e.text) for e in events if isinstance(e, TranscriptEvent) and e.final],
            "chunks": [e.chunks for e in events if isinstance(e, SummaryEvent)]}


def test_a_session_reset_mid_stream_decides_the_next_stream_as_a_fresh_session(engine, shared_audio):
    """The first stream says "translate into Chinese" and the reset comes while its English goes on; the next stream
    (barking, then "count the dog barks" and "how many times did the dog bark?") must get the decisions, task events
    and final texts of a fresh session: the task, the held segments, the sound tracks, the memory and the stream's
    clock all start again."""
    first = load_audio(shared_audio / "streams" / "sample_translate.wav")
    second = load_audio(shared_audio / "streams" / "sample_count.wav")
    fresh = engine.session(SessionOptions())
    expected = heard(feed(fresh, second) + fresh.finish())
    assert any(d[1] == "respond" for d in expected["decisions"]) and len(expected["tasks"]) > 1

    session = engine.session(SessionOptions())
    before = feed(session, first[: int(7.0 * SAMPLE_RATE)])
    assert session.stream.decision.task.mode is Mode.TRANSLATE, [e for e in before if isinstance(e, TaskEvent)]
    ended = session.reset()  # the old stream's last events, then the new stream's first: its task
    assert isinstance(ended[-1], TaskEvent) and ended[-1].source == "option"
    assert session.stream.decision.task.mode is Mode.ASSISTANT and session.stream_time == 0.0
    assert not session.stream.memory.transcripts
    after = ended[-1:] + feed(session, second) + session.finish()
    assert heard(after) == expected


def test_a_finished_session_cannot_be_reset_and_its_responses_saw_its_name_memory_and_finals(engine):
    session = engine.session(SessionOptions(mode=Mode.TRANSCRIBE, sounds=False, name="Pascal"))
    ctx, other = session.response_context(), session.response_context()
    assert (ctx.name, ctx.memory, ctx.finals) == ("Pascal", session.stream.memory, session.stream.finals)
    assert ctx.cancelled is not other.cancelled  # each response has its own stop signal
    session.finish()
    with pytest.raises(RuntimeError, match="finished"):
        session.reset()


def test_a_session_that_speaks_says_the_next_streams_answer_after_a_reset(engine, shared_audio):
    """Spoken output (the real piper voice, audio events only): the reset waits for the old stream's sentences, and
    the next stream's answer is spoken on its own clock, not after where the old stream's speech ended."""
    from listenloop.runtime.events import AudioEvent, ResponseEvent
    from listenloop.runtime.session import SpeechOutput

    audio = load_audio(shared_audio / "streams" / "sample_count.wav")
    session = engine.session(SessionOptions(speech=SpeechOutput()))
    first = feed(session, np.concatenate([np.zeros(LATE_S * SAMPLE_RATE, np.float32), audio]))  # said late
    first += session.reset()
    old_end = max(e.t + len(e.samples) / SAMPLE_RATE for e in first if isinstance(e, AudioEvent))
    second = feed(session, audio) + session.finish()
    decided = {e.id: e.t for e in second if isinstance(e, ResponseEvent)}
    spoken = [e for e in second if isinstance(e, AudioEvent)]
    assert [e.id for e in spoken] == list(decided)  # the acknowledgement, then the count
    assert all(decided[e.id] <= e.t for e in spoken)
    assert old_end > LATE_S + 3.6 and spoken[0].t < old_end - LATE_S / 2  # the acknowledgement (decided at 3.6 s)
    # is placed from its own decision, not after where the old stream's speech ended
