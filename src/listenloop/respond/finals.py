"""Every wait for a final text outside the decision, in one place: one `Finals` per stream (runtime/stream_state.py).

A segment's final text (Whisper base) is decoded on a worker thread after the segment closes. Three parts of the
runtime wait for it:
- the listening loop, fed faster than real time (a file), waits at a chunk for the finals a live run would have by
  then (`keep_schedule`), so decisions read them where live decisions would;
- the end of a stream waits for every final still decoding (`wait_all`), so each one is reported;
- responders wait for the finals of the segments they answer (`text_of` for an open or judged segment, `pieces` for
  closed ones), through their ResponseContext.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from concurrent import futures

from listenloop.audio.chunker import Chunk
from listenloop.audio.constants import CHUNK_SECONDS
from listenloop.decision.conversation_state import FINAL_WAIT_S
from listenloop.perception.asr import MAX_SEGMENT_S
from listenloop.perception.observation import FinalText, SegmentEnd
from listenloop.perception.offline import ready_chunk
from listenloop.respond.memory import Memory

AHEAD_S = 0.5  # s the stream may run ahead of the wall clock before the loop keeps the live schedule of finals
SCHEDULE_WAIT_MAX_S = 30.0  # s a chunk waits at most for a final due by that schedule (a healthy decode takes < 2 s)
STOP_POLL_S = 0.05  # s between looks at a waiting response's stop event
PIECE_WAIT_S = 30.0  # s a closed piece's final is waited for; a final decode never takes this long on a healthy machine
QUESTION_WAIT_S = FINAL_WAIT_S  # s an answer waits for its question's final: the policy's bound (decision/), so the
# answer and the policy's taking it back agree
OPEN_CAPTION_WAIT_S = MAX_SEGMENT_S + 2.0  # s a caption released at a pause waits for its open segment's final: the
# speaker may go on in that segment up to its length limit, then the final decodes; the whole segment is captioned


class Finals:
    """The final texts of one stream: which segments' finals are decoding, which are known, and every wait for one.

    `watch` each segment that closes (once); `on_final` gets each final's future when its decode is done (the session
    files the text into `memory` and reports it), then the waits that need it end."""

    def __init__(self, memory: Memory, on_final: Callable[[futures.Future], None], started: float) -> None:
        self._memory = memory  # where on_final files the finals' texts (the stream's bounded memory)
        self._on_final = on_final
        self._started = started  # perf_counter when the stream began (its schedule against the wall clock)
        self._done = threading.Condition()
        self._pending = 0  # finals decoding
        self._watched = -1  # last segment whose final is watched (an early close is reported twice)
        self._known = -1  # last segment whose final is known (finals resolve in segment order)
        self._due: collections.deque[tuple[int, futures.Future]] = collections.deque()  # (chunk due by, future)

    def watch(self, ended: SegmentEnd) -> None:
        """A segment closed: its final is reported as soon as its decode is done (once per segment)."""
        if ended.segment <= self._watched:
            return
        self._watched = ended.segment
        with self._done:
            self._pending += 1
        self._due.append((ready_chunk(int(ended.t1 / CHUNK_SECONDS), ended.t1), ended.final))
        ended.final.add_done_callback(self._ready)

    def _ready(self, future: futures.Future) -> None:
        try:
            self._on_final(future)
        finally:
            with self._done:
                self._pending -= 1
                if not future.cancelled() and future.exception() is None:
                    self._known = max(self._known, future.result().segment)
                self._done.notify_all()

    def keep_schedule(self, chunk: Chunk) -> float:
        """Fed faster than real time (a file), a final would come chunks later than live, and decisions that read
        it would differ from a live run's. Ahead of the wall clock, a chunk therefore waits for the finals that live
        decoding has by then (perception/offline.py, the schedule the decision model was trained on). Live, the
        stream is never ahead and nothing waits. Returns the seconds waited."""
        start = time.perf_counter()
        while self._due and self._due[0][0] <= chunk.index:
            _, final = self._due.popleft()
            if chunk.t1 - (time.perf_counter() - self._started) > AHEAD_S:
                futures.wait([final], SCHEDULE_WAIT_MAX_S)
        return time.perf_counter() - start

    def wait_all(self, timeout_s: float) -> bool:
        """Wait until every watched final is reported (the end of a stream); False if some are still decoding."""
        with self._done:
            return self._done.wait_for(lambda: self._pending == 0, timeout_s)

    def question(self, segment: int, stop: threading.Event | None = None) -> FinalText | None:
        """The final text of an answered question's segment (QUESTION_WAIT_S at most)."""
        return self.text_of(segment, QUESTION_WAIT_S, stop)

    def open_caption(self, segment: int, stop: threading.Event | None = None) -> FinalText | None:
        """The final text of the segment a caption was released in before it closed (OPEN_CAPTION_WAIT_S at most)."""
        return self.text_of(segment, OPEN_CAPTION_WAIT_S, stop)

    def text_of(self, segment: int, timeout_s: float, stop: threading.Event | None = None) -> FinalText | None:
        """The final text of spoken segment `segment`, waiting up to `timeout_s` for it (any thread) and no longer
        once `stop` is set (a response stopped by barge-in); None if it is not known by then or has no words.
        Responders use it to replace a partial heard earlier."""
        deadline = time.monotonic() + timeout_s
        with self._done:
            while self._known < segment and not (stop is not None and stop.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._done.wait(left if stop is None else min(left, STOP_POLL_S))
        final = next((f for f in reversed(self._memory.transcripts) if f.segment == segment), None)
        return final if final is not None and final.text else None


def piece_texts(pieces: list[SegmentEnd]) -> tuple[list[FinalText], str]:
    """Each closed piece's final text (its decode already started; PIECE_WAIT_S at most each), and their texts joined.
    The pieces carry their own futures, so this needs no stream."""
    finals = [p.final.result(timeout=PIECE_WAIT_S) for p in pieces]
    return finals, " ".join(f.text for f in finals if f.text)
