"""Shedding under load (runtime/load.py): when a live stream falls behind, partials come at pauses only until no
stream has been behind for a while; a machine at its edge waits longer each time. The governor's tests use their own
clock, so the waits are exact; the last test drives a real engine from a live source, and the server's
(tests/test_server_metrics.py) a real server."""

from __future__ import annotations

import pytest

from listenloop.runtime.load import BEHIND_S, KEPT_UP_S, RESTORE_MAX_S, RESTORE_S, LivePace, LoadGovernor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_stream_behind_by_more_than_a_chunk_sheds_and_partials_return_after_the_wait(clock):
    load = LoadGovernor(clock)
    assert not load.report(BEHIND_S)  # a chunk waiting is the budget, not behind
    assert load.report(BEHIND_S + 0.1)
    clock.now += RESTORE_S - 0.1
    assert load.report(0.0), "back before the wait without any stream behind"
    clock.now += 0.1
    assert not load.report(0.0)
    assert load.episodes == 1


def test_a_stream_on_the_edge_does_not_count_as_keeping_up(clock):
    load = LoadGovernor(clock)
    load.report(BEHIND_S + 0.1)
    for _ in range(5):
        clock.now += RESTORE_S * 0.6
        assert load.report((KEPT_UP_S + BEHIND_S) / 2), "queued more than a frame: not kept up, not behind either"
    clock.now += RESTORE_S
    assert not load.report(KEPT_UP_S)


def test_any_streams_backlog_keeps_every_stream_shed(clock):
    load = LoadGovernor(clock)
    load.report(1.0)  # stream A
    for _ in range(3):
        clock.now += RESTORE_S * 0.6
        assert load.report(0.0)  # stream B keeps up ...
        assert load.report(0.9)  # ... while A is behind again: the wait starts over


def test_falling_behind_soon_after_partials_return_doubles_the_wait_up_to_its_cap(clock):
    load = LoadGovernor(clock)
    waits = []
    for _ in range(8):
        load.report(1.0)
        waits.append(load.restore_s)
        clock.now += load.restore_s
        assert not load.report(0.0)
        clock.now += 1.0  # behind again a second later
    assert waits[:3] == [RESTORE_S, 2 * RESTORE_S, 4 * RESTORE_S]
    assert waits[-1] == RESTORE_MAX_S
    load.report(1.0)
    clock.now += load.restore_s
    load.report(0.0)
    clock.now += RESTORE_MAX_S + 1  # a long while in real time: the next episode starts from the first wait
    load.report(1.0)
    assert load.restore_s == RESTORE_S


def test_a_live_sources_backlog_is_the_time_since_it_started_less_the_audio_fed(clock):
    pace = LivePace(clock)
    for _ in range(5):  # a microphone's 0.1 s blocks, each taken as it arrives
        clock.now += 0.1
        assert pace.waiting(0.1) == pytest.approx(0.0, abs=1e-9)
        pace.fed(0.1)
    clock.now += 1.5  # the listening loop was busy for 1.5 s: the microphone's blocks queued
    assert pace.waiting(0.1) == pytest.approx(1.4)  # behind the block fed now
    pace.fed(0.1)
    for _ in range(14):  # the queued blocks, fed back to back
        pace.fed(0.1)
    assert pace.waiting(0.1) == pytest.approx(0.0, abs=1e-9)


class Collect:
    def __init__(self) -> None:
        self.events = []

    def show(self, event) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass


def test_a_live_session_that_falls_behind_its_source_gets_partials_at_pauses_only(shared_audio):
    """A real engine on jfk from a source that delivers it in real time and then stalls 1.5 s: the session falls
    behind and sheds; the same audio as a file (not live) is never shed."""
    import time

    from listenloop.audio.constants import SAMPLE_RATE
    from listenloop.audio.decode import load_audio
    from listenloop.runtime.drive import drive
    from listenloop.runtime.engine import Engine, EngineConfig
    from listenloop.runtime.events import TranscriptEvent
    from listenloop.runtime.session import SessionOptions
    from listenloop.vocabulary import Mode

    jfk = load_audio(shared_audio / "speech" / "jfk.flac")
    block = SAMPLE_RATE // 10
    blocks = [jfk[i : i + block] for i in range(0, len(jfk), block)]

    def stalling():
        for n, b in enumerate(blocks):
            if n < 5:
                time.sleep(0.1)
            elif n == 5:
                time.sleep(1.5)
            yield b

    engine = Engine(EngineConfig(sounds=False))
    try:
        runs = {}
        for live, source in ((False, iter(blocks)), (True, stalling())):
            out = Collect()
            drive(engine, SessionOptions(mode=Mode.TRANSCRIBE, sounds=False), source, out, live=live)
            runs[live] = [e for e in out.events if isinstance(e, TranscriptEvent) and not e.final]
            assert any(isinstance(e, TranscriptEvent) and e.final and "country" in e.text for e in out.events)
        assert engine.load.episodes == 1
        assert len(runs[True]) <= 6 < len(runs[False]), (len(runs[True]), len(runs[False]))
    finally:
        engine.close()
