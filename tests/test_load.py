"""Shedding under load (runtime/load.py): when a live stream falls behind, partials come at pauses only until no
stream has been behind for a while; a machine at its edge waits longer each time. The clock is the test's own, so
the waits are exact; the server test (tests/test_server_metrics.py) runs the real thing."""

from __future__ import annotations

import pytest

from listenloop.runtime.load import BEHIND_S, RESTORE_MAX_S, RESTORE_S, LoadGovernor


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
