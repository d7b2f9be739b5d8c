"""The responder contract: a decision to respond becomes a stream of text, produced off the listening loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from listenloop.decision.base import Decision
from listenloop.perception.observation import FinalText, SegmentEnd
from listenloop.vocabulary import Task

FINAL_TEXT_TIMEOUT_S = 30.0  # s; a final decode never takes this long on a healthy machine


@dataclass(frozen=True)
class ResponseRequest:
    id: str  # unique in the session ("r1", "r2", ...)
    decision: Decision  # what was decided, with its task and payload
    chunk: int  # index of the deciding chunk
    t: float  # stream time at the end of the deciding chunk, s
    arrived: float  # wall clock (perf_counter) when the deciding chunk was complete


class SessionView(Protocol):
    """What a responder may read of the session it answers for (runtime/session.py implements it). Responders read
    these attributes with getattr, so a test may give a plain object with only the ones it needs, or none."""

    memory: object  # runtime/session.Memory: recent transcripts, sound events and question/answer turns (deques)
    options: object  # runtime/session.SessionOptions: the assistant's name, its language
    decision_state: object  # the policy's per-stream state: the task in force

    def final_of(self, segment: int, timeout_s: float, stop: threading.Event | None = None) -> FinalText | None: ...


@dataclass
class ResponseContext:
    """What a responder may read or signal while it runs. One per response."""

    cancelled: threading.Event = field(default_factory=threading.Event)  # set on barge-in or shutdown
    session: SessionView | None = None  # the session answered for: its memory, options, task and finals
    extra: dict[str, Any] = field(default_factory=dict)  # filled by the responder: language, label, segment, ...


class Responder(Protocol):
    """Produces the text of one response, piece by piece. Checks ctx.cancelled between pieces."""

    task: Task

    def run(self, request: ResponseRequest, ctx: ResponseContext) -> Iterator[str]: ...


def spoken_pieces(payload: dict[str, Any]) -> list[SegmentEnd]:
    """The spoken segments a transcript or translation response covers: the earlier pieces of its sentence that were
    held for it (`before`, a list), then `segment`."""
    return [*payload.get("before", ()), payload["segment"]]


def session_final(ctx: ResponseContext, segment: int, timeout_s: float) -> FinalText | None:
    """The final text of spoken segment `segment` from the response's session, waited for up to `timeout_s` and not
    after the response is stopped; None without a session, if it is not in by then, or if it has no words
    (runtime/session.py `final_of`)."""
    final_of = getattr(ctx.session, "final_of", None)
    final = final_of(segment, timeout_s, ctx.cancelled) if final_of is not None else None
    return final if final is not None and final.segment == segment and final.text else None


def final_texts(pieces: list[SegmentEnd]) -> tuple[list[FinalText], str]:
    """Each piece's final (Whisper base) result, waited for, and their texts joined."""
    finals = [p.final.result(timeout=FINAL_TEXT_TIMEOUT_S) for p in pieces]
    return finals, " ".join(f.text for f in finals if f.text)
