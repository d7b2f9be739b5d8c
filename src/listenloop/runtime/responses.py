"""The response worker: decisions to respond become text off the listening loop, in order, cancellable.

Listening never waits for a response (full duplex). One worker thread per session runs requests in the order
they were decided; barge-in cancels the running one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from listenloop.respond.base import Responder, ResponseContext, ResponseRequest
from listenloop.runtime.control import Control, ControlKind
from listenloop.runtime.events import ErrorEvent, Event, ResponseDeltaEvent, ResponseEvent, ResponseStartEvent
from listenloop.runtime.stream_state import ResponseTally
from listenloop.runtime.timeline import Timeline
from listenloop.vocabulary import Task

_STOP = object()
# Barge-in stops what would be talking over the user; captions (transcripts, translations) are never cut.


class ResponseRunner:
    def __init__(self, responders: dict[Task, Responder], emit: Callable[[Event], None],
                 context: Callable[[], ResponseContext] = ResponseContext, timeline: Timeline | None = None,
                 tally: ResponseTally | None = None) -> None:
        self._responders = responders
        self._timeline = timeline  # paces the stream while a response that barge-in could stop is in flight
        self.tally = tally or ResponseTally()  # complete responses: counts per task, latency
        self._emit = emit
        self._context = context  # a fresh context per response: the stream's memory and finals, a cancel signal
        self._queue: queue.Queue = queue.Queue()
        self._current: ResponseContext | None = None
        self._current_task: Task | None = None
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="listenloop-responses", daemon=True)
        self._thread.start()

    def submit(self, request: ResponseRequest) -> None:
        with self._idle:
            self._pending += 1
        if self._paced(request):
            self._timeline.started(request.t, request.arrived)
        self._queue.put(request)

    def _paced(self, request: ResponseRequest) -> bool:
        """Responses that talk to the user take their time on the stream's clock (runtime/timeline.py); captions
        are never cut, so they need not."""
        task = request.decision.task
        return self._timeline is not None and task is not None and task.interruptible

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def cancel_current(self, only_interruptible: bool = False) -> bool:
        """Stop the response being produced now (barge-in passes only_interruptible). True if one was stopped."""
        ctx = self._current
        if ctx is None or ctx.cancelled.is_set():
            return False
        if only_interruptible and not (self._current_task is not None and self._current_task.interruptible):
            return False
        ctx.cancelled.set()
        return True

    def apply(self, control: Control) -> None:
        """A control message of the stream (runtime/control.py): barge-in stops the response being produced, unless
        it is a caption."""
        if control.kind is ControlKind.BARGE_IN:
            self.cancel_current(only_interruptible=True)

    def cancel_all(self) -> None:
        """Stop the response being produced and drop those waiting (a new stream on the session)."""
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            if request is _STOP:
                self._queue.put(_STOP)
                break
            self._done(request)
        self.cancel_current()

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 5.0) -> None:
        self.cancel_current()
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while (request := self._queue.get()) is not _STOP:
            try:
                self._run_one(request)
            except Exception as e:  # noqa: BLE001 - a failing responder must never stop the session
                self._emit(ErrorEvent(f"response {request.id} failed: {type(e).__name__}: {e}"))
            finally:
                self._done(request)

    def _done(self, request: ResponseRequest) -> None:
        if self._paced(request):
            self._timeline.ended()
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _run_one(self, request: ResponseRequest) -> None:
        task = request.decision.task
        responder = self._responders.get(task)
        if responder is None:
            self._emit(ErrorEvent(f"no responder for task {task.value!r}"))
            return
        ctx = self._context()
        self._current, self._current_task = ctx, task
        emotion = request.decision.emotion.value
        pieces: list[str] = []
        first_ms = None
        try:
            for piece in responder.run(request, ctx):
                if first_ms is None:
                    if not piece.strip():
                        continue
                    first_ms = (time.perf_counter() - request.arrived) * 1000.0
                    self._emit(ResponseStartEvent(request.id, request.t, task.value, emotion))
                pieces.append(piece)
                self._emit(ResponseDeltaEvent(request.id, piece))
                if ctx.cancelled.is_set():
                    break
        finally:
            self._current, self._current_task = None, None
        text = "".join(pieces).strip()
        if not text:
            return  # nothing to say after all (e.g. the final recognizer found no words)
        self.tally.add(task.value, first_ms or 0.0)
        self._emit(
            ResponseEvent(
                id=request.id,
                t=request.t,
                task=task.value,
                text=text,
                latency_ms=round(first_ms or 0.0, 1),
                emotion=ctx.extra.pop("emotion", emotion),
                label=request.decision.payload.get("label"),
                interrupted=ctx.cancelled.is_set(),
                lang=ctx.extra.get("lang"),
                duration_ms=round((time.perf_counter() - request.arrived) * 1000.0, 1),
                extra={k: v for k, v in ctx.extra.items() if isinstance(v, (str, int, float, bool, type(None)))},
            )
        )
