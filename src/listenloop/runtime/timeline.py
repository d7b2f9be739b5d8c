"""An honest timeline for streams fed faster than real time (a file): while a response is in flight, the stream's
clock advances no faster than the wall clock.

A live session hears the next words while its answer is being written (and spoken), and barge-in stops the answer
only where speech really overlaps it. A file is read many times faster than real time while the language model runs
at its own speed; read at full speed, the words that follow a question would arrive "during" its answer and stop it.
So, from the moment a response is decided until it is complete (and, with spoken output, until its last sentence has
been played on the stream's clock), each chunk waits until the wall time since the decision has caught up with the
stream time since the decision. Stretches with nothing in flight still run as fast as the CPU allows. Live sources
are never ahead of the wall clock, so nothing waits for them (docs/events.md, "Timeline").
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

WAIT_STEP_S = 0.05  # s between looks while a chunk waits (a response may end, or a sentence be placed, meanwhile)


@dataclass(frozen=True)
class Anchor:
    """Where the stream's clock and the wall clock were tied: when the first of the responses in flight was decided."""

    t: float  # s, stream time of the deciding chunk's end
    wall: float  # perf_counter when that chunk was complete


class Timeline:
    """Per session. `started`/`ended` bracket each response the timeline paces; `hold(t)` before a chunk ending at
    stream time `t` is processed; `speaking_until(t)` keeps pacing while spoken output lasts."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._in_flight = 0
        self._anchor: Anchor | None = None
        self._speech_end = 0.0  # s, stream time where the last placed sentence ends

    def started(self, t: float, wall: float) -> None:
        """A paced response was decided at stream time `t`, its chunk complete at perf_counter `wall`."""
        with self._cond:
            if self._anchor is None:
                self._anchor = Anchor(t, wall)
            self._in_flight += 1

    def ended(self) -> None:
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            self._cond.notify_all()

    def speaking_until(self, t_end: float) -> None:
        """Spoken output (runtime/speech.py) was placed up to stream time `t_end`: it is in flight until then."""
        with self._cond:
            self._speech_end = max(self._speech_end, t_end)
            self._cond.notify_all()

    def speaking_at(self, t: float) -> bool:
        """Spoken output is still playing at stream time `t` (barge-in may stop it)."""
        return t < self._speech_end

    def cut_speech(self, t: float) -> None:
        """Spoken output was stopped at stream time `t`."""
        with self._cond:
            self._speech_end = min(self._speech_end, t)
            self._cond.notify_all()

    def reset(self) -> None:
        """A new stream on the session (nothing in flight): the clocks are untied."""
        with self._cond:
            self._in_flight, self._anchor, self._speech_end = 0, None, 0.0
            self._cond.notify_all()

    @property
    def anchor(self) -> Anchor | None:
        return self._anchor

    def hold(self, t: float) -> float:
        """Wait until the chunk ending at stream time `t` is due by the wall clock, or nothing is in flight.

        Returns the seconds waited."""
        start = time.perf_counter()
        with self._cond:
            while self._anchor is not None:
                if self._in_flight == 0 and t >= self._speech_end:
                    self._anchor = None  # nothing in flight: the stream runs free again
                    break
                ahead = (t - self._anchor.t) - (time.perf_counter() - self._anchor.wall)
                if ahead <= 0:
                    break
                self._cond.wait(min(ahead, WAIT_STEP_S))
        return time.perf_counter() - start
