"""The responder contract: a decision to respond becomes a stream of text, produced off the listening loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from listenloop.decision.base import Decision
from listenloop.perception.observation import SegmentEnd
from listenloop.respond.finals import Finals
from listenloop.respond.memory import Memory
from listenloop.vocabulary import Mode, Task


@dataclass(frozen=True)
class ResponseRequest:
    id: str  # unique in the session ("r1", "r2", ...)
    decision: Decision  # what was decided, with its task and payload
    chunk: int  # index of the deciding chunk
    t: float  # stream time at the end of the deciding chunk, s
    arrived: float  # wall clock (perf_counter) when the deciding chunk was complete


@dataclass
class ResponseContext:
    """What a responder may read or signal while it runs. One per response (runtime/session.py response_context)."""

    cancelled: threading.Event = field(default_factory=threading.Event)  # set on barge-in or shutdown
    memory: Memory = field(default_factory=Memory)  # the stream's recent transcripts, sounds and turns
    finals: Finals | None = None  # the stream's final texts and the waits for them; None: no stream to wait on
    name: str | None = None  # the assistant's name (SessionOptions.name); None: it has none
    extra: dict[str, Any] = field(default_factory=dict)  # filled by the responder: language, label, segment, ...


class Listening(Protocol):
    """What a responder's background work (the answer's prefill) reads of a live stream; runtime/session.py Session
    implements it."""

    @property
    def mode(self) -> Mode: ...  # the mode of the task in force

    def response_context(self) -> ResponseContext: ...


class Responder(Protocol):
    """Produces the text of one response, piece by piece. Checks ctx.cancelled between pieces."""

    task: Task

    def run(self, request: ResponseRequest, ctx: ResponseContext) -> Iterator[str]: ...


def spoken_pieces(payload: dict[str, Any]) -> list[SegmentEnd]:
    """The spoken segments a transcript or translation response covers: the earlier pieces of its sentence that were
    held for it (`before`, a list), then `segment`."""
    return [*payload.get("before", ()), payload["segment"]]
