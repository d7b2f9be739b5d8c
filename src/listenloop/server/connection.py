"""One WebSocket client = one Session. Three tasks per connection: receive frames, feed audio, send events.

Chunk processing runs in the server's thread pool, so the event loop keeps every other connection moving. Whatever
ends the connection (stop, a client mistake, a disconnect), the session is finished or closed and its state freed.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import itertools
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect

from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.runtime.events import DecisionEvent, ErrorEvent, Event, SummaryEvent
from listenloop.runtime.session import Session
from listenloop.server import protocol as p
from listenloop.server.limits import FrameGate, ServerSettings

log = logging.getLogger("listenloop.server")
CLOSE_REASON_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes


class ClientGone(Exception):
    """The client disconnected (or the socket broke): nothing more to send."""


@dataclass(frozen=True)
class _InstructionMark:
    text: str  # applied in stream order, between the audio before and after it


_STOP_MARK = object()


class Hub:
    """What all connections share: the engine, the settings, the thread pool, and the count of live sessions."""

    def __init__(self, engine, settings: ServerSettings, executor: Executor) -> None:
        self.engine = engine
        self.settings = settings
        self.executor = executor
        self.active = 0
        self._ids = itertools.count(1)
        self.metrics = None  # server/metrics.py ServerMetrics, set by create_app

    def next_id(self) -> str:
        return f"s{next(self._ids)}"

    def capabilities(self) -> dict[str, bool]:
        perception = self.engine.perception
        return {"asr": perception.recognizer is not None, "sounds": perception.tagger is not None}


class Connection:
    def __init__(self, ws: WebSocket, hub: Hub) -> None:
        self.ws = ws
        self.hub = hub
        self.limits = hub.settings.limits
        self.loop = asyncio.get_running_loop()
        self.gate = FrameGate(self.limits)
        self.session: Session | None = None
        self.session_id = ""
        self._outbox: asyncio.Queue[Event] = asyncio.Queue()
        self._pending: collections.deque = collections.deque()  # float32 arrays and marks, in arrival order
        self._pending_samples = 0
        self._wake = asyncio.Event()
        self._finished = False  # finish() ran: the summary is on its way
        self._decided = 0  # decisions so far (metrics: which feed completed a chunk)

    # ---- the whole life of a connection ----
    async def serve(self) -> None:
        refusal = self._refusal()
        await self.ws.accept()
        if refusal is not None:
            await self._close(refusal)
            return
        if self.hub.active >= self.limits.max_sessions:
            await self._close(p.ProtocolError(p.CloseCode.SERVER_BUSY,
                                              f"server busy: {self.limits.max_sessions} sessions already running"))
            return
        self.hub.active += 1
        self._metrics("session_opened")
        try:
            await self._serve_admitted()
        finally:
            self.hub.active -= 1
            self._metrics("session_closed")
            self._metrics("backlog_change", -self._pending_samples / SAMPLE_RATE)
            if self.session is not None and not self._finished:
                await self.loop.run_in_executor(self.hub.executor, self.session.close)
            self.session = None

    async def _serve_admitted(self) -> None:
        try:
            start = await self._receive_start()
            self.session_id = self.hub.next_id()
            self.session = await self.loop.run_in_executor(
                self.hub.executor, self.hub.engine.session, start.options.session_options(), self._on_event)
            await self.ws.send_text(p.ready_message(self.session_id, self.limits.to_dict(), self.hub.capabilities()))
            log.info("session %s started (%s)", self.session_id, start.options)
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._receive())
                tasks.create_task(self._feed())
                tasks.create_task(self._send())
            await self._close_quietly(p.CloseCode.NORMAL, "stopped")
        except* p.ProtocolError as group:
            await self._close(group.exceptions[0])
        except* (ClientGone, WebSocketDisconnect):
            log.info("session %s: client gone", self.session_id or "(unstarted)")
        except* Exception as group:  # noqa: BLE001 - a server bug closes this session only, with its message
            error = group.exceptions[0]
            log.exception("session %s failed", self.session_id, exc_info=error)
            await self._close(p.ProtocolError(p.CloseCode.INTERNAL_ERROR, f"{type(error).__name__}: {error}"))

    # ---- admission ----
    def _refusal(self) -> p.ProtocolError | None:
        settings = self.hub.settings
        origin = self.ws.headers.get("origin")
        if origin is not None and not self._origin_allowed(origin):
            return p.ProtocolError(p.CloseCode.FORBIDDEN_ORIGIN, f"origin {origin} is not allowed")
        if settings.token is not None:
            given = self.ws.query_params.get("token")
            auth = self.ws.headers.get("authorization", "")
            if given is None and auth.lower().startswith("bearer "):
                given = auth[len("bearer "):].strip()
            if given is None or not hmac.compare_digest(given.encode(), settings.token.encode()):
                return p.ProtocolError(p.CloseCode.UNAUTHORIZED, "missing or wrong token")
        return None

    def _origin_allowed(self, origin: str) -> bool:
        """Same origin as the page this server serves, or explicitly allowed. Non-browser clients send none."""
        if origin in self.hub.settings.allowed_origins:
            return True
        host = self.ws.headers.get("host", "")
        return urlsplit(origin).netloc.lower() == host.lower() and host != ""

    async def _receive_start(self) -> p.Start:
        try:
            message = await asyncio.wait_for(self.ws.receive(), self.limits.start_timeout_s)
        except TimeoutError:
            raise p.ProtocolError(p.CloseCode.TIMEOUT,
                                  f"no start message within {self.limits.start_timeout_s:.0f} s") from None
        text = self._text_of(message)
        parsed = p.parse_client_text(text)
        if not isinstance(parsed, p.Start):
            raise p.ProtocolError(p.CloseCode.BAD_MESSAGE, f"the first message must be start, not {parsed}")
        return parsed

    def _text_of(self, message) -> str:
        """The text of an ASGI receive message; audio before `start` and disconnects are told apart."""
        if message["type"] == "websocket.disconnect":
            raise ClientGone()
        if message.get("text") is None:
            raise p.ProtocolError(p.CloseCode.BAD_MESSAGE, "audio before the start message")
        self.gate.text(len(message["text"].encode()))
        return message["text"]

    # ---- the three tasks ----
    async def _receive(self) -> None:
        while True:
            try:
                message = await asyncio.wait_for(self.ws.receive(), self.limits.idle_timeout_s)
            except TimeoutError:
                raise p.ProtocolError(p.CloseCode.TIMEOUT,
                                      f"no frame for {self.limits.idle_timeout_s:.0f} s") from None
            if message["type"] == "websocket.disconnect":
                raise ClientGone()
            data = message.get("bytes")
            if data is not None:
                self.gate.binary(len(data))
                self._queue_audio(p.pcm16_frame_to_float(data))
                continue
            parsed = p.parse_client_text(self._text_of(message))
            if isinstance(parsed, p.Start):
                raise p.ProtocolError(p.CloseCode.BAD_MESSAGE, "start sent twice")
            self._pending.append(_InstructionMark(parsed.text) if isinstance(parsed, p.Instruction) else _STOP_MARK)
            self._wake.set()
            if parsed == p.Stop():
                return

    def _queue_audio(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        self._pending.append(samples)
        self._pending_samples += len(samples)
        self._metrics("backlog_change", len(samples) / SAMPLE_RATE)
        self._wake.set()
        backlog = self._pending_samples / SAMPLE_RATE
        if backlog > self.limits.max_backlog_seconds:
            raise p.ProtocolError(p.CloseCode.FELL_BEHIND,
                                  f"server fell {backlog:.1f} s behind this stream (limit "
                                  f"{self.limits.max_backlog_seconds:.0f} s)")

    async def _feed(self) -> None:
        """Audio to the session one chunk at a time, in arrival order, instructions in between."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                item = self._pending.popleft()
                if item is _STOP_MARK:
                    await self.loop.run_in_executor(self.hub.executor, self.session.finish)
                    self._finished = True
                    return
                if isinstance(item, _InstructionMark):
                    await self.loop.run_in_executor(self.hub.executor, self._instruct, item.text)
                    continue
                await self._feed_samples(item)

    async def _feed_samples(self, samples: np.ndarray) -> None:
        for i in range(0, len(samples), SAMPLES_PER_CHUNK):
            piece = samples[i : i + SAMPLES_PER_CHUNK]
            started, decided = time.perf_counter(), self._decided
            queued = self._pending_samples - (len(samples) - i)  # frames waiting behind this one: a client's large
            self.session.report_backlog(queued / SAMPLE_RATE)  # frame (up to 2 s) is early audio, not lateness
            await self.loop.run_in_executor(self.hub.executor, self.session.feed, piece)
            if self._decided > decided:  # this piece completed a chunk: the time is that chunk's processing
                self._metrics("chunk", time.perf_counter() - started)
            self._pending_samples -= len(piece)
            self._metrics("backlog_change", -len(piece) / SAMPLE_RATE)

    def _instruct(self, text: str) -> None:
        """A typed instruction that is not one the session understands is reported, and the session goes on."""
        try:
            self.session.instruct(text)
        except ValueError as e:
            self._on_event(ErrorEvent(str(e)))

    async def _send(self) -> None:
        while True:
            event = await self._outbox.get()
            try:
                samples = p.audio_samples(event)
                if samples is not None:
                    await self.ws.send_text(p.audio_header(event, samples))
                    await self.ws.send_bytes(p.float_to_pcm16_frame(samples))
                else:
                    await self.ws.send_text(event.to_json())
            except (WebSocketDisconnect, RuntimeError, OSError) as e:
                raise ClientGone() from e
            if isinstance(event, SummaryEvent):
                return

    def _on_event(self, event: Event) -> None:
        """Called from worker threads: hand the event to the loop (dropped once the loop is gone)."""
        self._metrics("event", event)
        if isinstance(event, DecisionEvent):
            self._decided += 1
        try:
            self.loop.call_soon_threadsafe(self._outbox.put_nowait, event)
        except RuntimeError:
            pass

    def _metrics(self, what: str, *args) -> None:
        if self.hub.metrics is not None:
            getattr(self.hub.metrics, what)(*args)

    # ---- closing ----
    async def _close(self, error: p.ProtocolError) -> None:
        log.info("session %s closed: %s %s", self.session_id or "-", error.code.name, error.reason)
        self._metrics("closed", error.code.name)
        try:
            await self.ws.send_text(p.closing_message(error.code, error.reason))
        except (WebSocketDisconnect, RuntimeError, OSError):
            return
        await self._close_quietly(error.code, error.reason)

    async def _close_quietly(self, code: p.CloseCode, reason: str) -> None:
        try:
            await self.ws.close(int(code), reason.encode()[:CLOSE_REASON_BYTES].decode(errors="ignore"))
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
