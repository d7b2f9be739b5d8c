"""`listenloop bench decisions` end to end on the real recordings: every contender, spawned workers."""

from __future__ import annotations

import math

from listenloop.audio.constants import SAMPLES_PER_CHUNK
from listenloop.bench import decisions


def test_bench_runs_every_policy_on_spawned_workers_over_the_real_recordings(shared_audio):
    streams = [s for s in decisions.real_streams(shared_audio) if s.stream.id.endswith(("count-bark", "real-jfk"))]
    assert len(streams) == 2
    tallies = decisions.bench(streams, workers=2, progress=False)
    names = set(tallies["all"])
    assert {"timeout 0.5 s", "conversation rules", "learned"} <= names
    for tally in tallies["all"].values():
        assert tally.due == 1  # the count after the barking; JFK's speech needs no reply
        chunks = sum(math.ceil(len(s.audio) / SAMPLES_PER_CHUNK) for s in streams)
        assert len(tally.decide_ms) == chunks  # one decision per chunk, the last one padded
    # a 0.5 s silence timeout answers JFK's pauses: false responses on speech that needs none
    assert tallies["real"]["timeout 0.5 s"].false > 0
