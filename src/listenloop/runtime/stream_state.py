"""Everything one stream has heard, decided and said so far, in one object with one reset.

A Session (runtime/session.py) owns one StreamState; the models live in the Engine and the per-session workers (the
response runner's thread, the speaker's) in the session. `reset()` makes the state of a new stream: what a new session
with the same options would start with.
"""

from __future__ import annotations

import collections
import itertools
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field

from listenloop.audio.chunker import Chunk, Chunker
from listenloop.perception.pipeline import PerceptionState
from listenloop.respond.finals import Finals
from listenloop.respond.memory import Memory
from listenloop.runtime.control import ControlLane
from listenloop.runtime.stats import LatencyHistogram
from listenloop.runtime.timeline import Timeline


@dataclass
class ResponseTally:
    """The stream's complete responses: their count per task and their latency to the first text."""

    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, task: str, first_ms: float) -> None:
        self.latency.add(first_ms)
        self.counts[task] = self.counts.get(task, 0) + 1

    def reset(self) -> None:
        self.latency, self.counts = LatencyHistogram(), {}


@dataclass
class StreamState:
    """The per-stream state of a session. `new_perception` and `new_decision` make the perceivers' and the policy's
    state of a fresh stream (Perception.init_state with the session's language options; policy.init_state)."""

    new_perception: Callable[[], PerceptionState]
    new_decision: Callable[[], object]
    on_final: Callable[[futures.Future], None]  # a final's decode is done (the session reports it)
    perception: PerceptionState = field(init=False)  # VAD windows, ASR segment buffers, tagger patches
    decision: object = field(init=False)  # the policy's state (ConversationState): task, holds, turn
    chunker: Chunker = field(init=False)  # the stream's clock: chunks cut so far
    memory: Memory = field(init=False)  # what responders may read: transcripts, sounds, turns
    controls: ControlLane = field(init=False)  # control messages for the responses in flight (barge-in)
    finals: Finals = field(init=False)  # the segments' final texts and every wait for one
    timeline: Timeline = field(default_factory=Timeline)  # the stream's clock against the wall clock (kept: the
    # response runner and the speaker hold it)
    responses: ResponseTally = field(default_factory=ResponseTally)  # kept: the response runner adds to it
    counts: collections.Counter = field(init=False)  # transcripts and sounds reported
    chunk_ms: LatencyHistogram = field(init=False)  # the work per chunk
    ids: Iterator[int] = field(init=False)  # response ids r1, r2, ...
    started: float = field(init=False)  # perf_counter when the stream began
    last_chunk: Chunk | None = field(init=False)

    def __post_init__(self) -> None:
        self._fresh()

    def _fresh(self) -> None:
        self.perception = self.new_perception()
        self.decision = self.new_decision()
        self.chunker = Chunker()
        self.started = time.perf_counter()
        self.memory = Memory()
        self.controls = ControlLane()
        self.finals = Finals(self.memory, self.on_final, self.started)
        self.counts = collections.Counter()
        self.chunk_ms = LatencyHistogram()
        self.ids = itertools.count(1)
        self.last_chunk = None

    def reset(self) -> None:
        """A new stream: every part as a fresh session's. Call with no response running and no final decoding
        (Session.reset stops and waits for them), so nothing of the old stream reaches the new one."""
        self.perception.reset()  # cancels the old stream's decodes in flight
        self.timeline.reset()
        self.responses.reset()
        self._fresh()
