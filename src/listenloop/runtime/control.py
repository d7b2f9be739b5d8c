"""Control messages: what the stream asks of the responses in flight, on a lane of its own beside the decisions.

A decision says what to say next; a control message changes what is being said now. The listening loop turns the
policy's per-chunk signals into `Control` messages on the stream's lane (`StreamState.controls`), and consumes the
lane in the same chunk, before the chunk's decision acts: the response runner and the speaker each apply every
message. Today there is one kind, barge-in (docs/events.md, "Barge-in").
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from enum import StrEnum


class ControlKind(StrEnum):
    BARGE_IN = "barge_in"  # the user talks over a response: stop it if interruptible, cut its speech at `t`


@dataclass(frozen=True)
class Control:
    kind: ControlKind
    t: float  # s, stream time at the end of the chunk it was heard in


class ControlLane:
    """One stream's control messages, in order; put from any thread, taken by the listening loop."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Control] = queue.SimpleQueue()

    def put(self, control: Control) -> None:
        self._queue.put(control)

    def take(self) -> list[Control]:
        """Every message put so far, oldest first."""
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out
