"""One live stream: PCM in, typed events out. Per-stream state lives here; the models live in the Engine.

    session = engine.session(SessionOptions())
    for block in blocks:
        for event in session.feed(block):   # any block size, 16 kHz mono float32
            ...
    for event in session.finish():          # flush, wait for responses, summary
        ...

Listening never waits for a response: responses are produced by a worker thread and their events show up
in the next feed()/drain() (or are handed to `on_event` as soon as they exist).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import queue
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from listenloop.audio.chunker import Chunk, Chunker
from listenloop.audio.constants import CHUNK_SECONDS, SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.decision.address import checked_names
from listenloop.decision.base import DEFAULT_DECIDER, Decider, Decision
from listenloop.perception.language import Script, check_language
from listenloop.perception.observation import FinalText, Observation
from listenloop.perception.offline import ready_chunk
from listenloop.respond.base import ResponseRequest
from listenloop.runtime.events import (
    DecisionEvent,
    ErrorEvent,
    Event,
    SoundEvent,
    SpeechEvent,
    SummaryEvent,
    TaskEvent,
    TranscriptEvent,
)
from listenloop.runtime.stats import LatencyHistogram
from listenloop.runtime.timeline import Timeline
from listenloop.vocabulary import Mode

if TYPE_CHECKING:
    from listenloop.decision.base import DecisionPolicy
    from listenloop.perception.pipeline import Perception
    from listenloop.runtime.responses import ResponseRunner

HISTORY_SEGMENTS = 32  # final transcripts kept for responders (bounded: hour-long sessions stay flat)
HISTORY_SOUNDS = 64  # sound events kept for responders
HISTORY_TURNS = 8  # question/answer turns kept for the assistant (rolling window: flat latency over hours)
FINISH_TIMEOUT_S = 120.0  # s to wait for outstanding responses at the end of a stream
AHEAD_S = 0.5  # s the stream may run ahead of the wall clock before the session keeps the live schedule of finals
FINAL_WAIT_MAX_S = 30.0  # s a chunk waits at most for a final that is due by that schedule
STOP_POLL_S = 0.05  # s between looks at a waiting response's stop event (final_of)


@dataclass(frozen=True)
class SpeechOutput:
    """Spoken responses (runtime/speech.py): where the speech goes. With none of play/write_to, speech is sent only
    as audio events (the server's `speech` option)."""

    play: bool = False  # on the default output device (the `mic` extra)
    write_to: Path | None = None  # a wav on the input's timeline
    gate: bool = True  # while playing, the microphone is gated (False: headphones, barge-in by voice stays possible)


@dataclass(frozen=True)
class SessionOptions:
    mode: Mode = Mode.ASSISTANT  # what the session is for at the start (the CLI, the page and the protocol alike)
    sounds: bool = True  # tag sounds and respond to them by the sound policy
    policy_path: Path | None = None  # a sound-policy file overriding the defaults for this session
    instruction: str | None = None  # an instruction in force from the start ("translate into Chinese")
    barge_in: bool = True  # user speech during a response stops it
    decider: Decider = DEFAULT_DECIDER  # who decides whether and when speech is answered (decision/timing.py)
    speech: SpeechOutput | None = None  # speak the responses (None: text only)
    name: str | None = None  # the assistant's name: "Hey NAME, ...", "NAME, ..." address it (decision/address.py)
    aliases: tuple[str, ...] = ()  # other names it answers to ("Pascale", a nickname)
    language: str | None = None  # the language spoken (ISO 639-1, one of perception/language.py SPOKEN); None:
    # identified per segment
    script: Script = Script.SIMPLIFIED  # how Chinese transcripts are written

    def __post_init__(self) -> None:
        checked_names(self.name, self.aliases)  # a bad name fails here, with its reason

    @property
    def names(self) -> tuple[str, ...]:
        """The name, then the aliases; empty when the session has no name."""
        return checked_names(self.name, self.aliases)


@dataclass
class Memory:
    """Bounded recent context that responders may read: final transcripts and sound events."""

    transcripts: collections.deque = field(default_factory=lambda: collections.deque(maxlen=HISTORY_SEGMENTS))
    sounds: collections.deque = field(default_factory=lambda: collections.deque(maxlen=HISTORY_SOUNDS))
    turns: collections.deque = field(default_factory=lambda: collections.deque(maxlen=HISTORY_TURNS))


class SessionHost(Protocol):
    """What a session needs from the engine that made it: the shared models and the per-session hooks. The engine
    implements it (runtime/engine.py); the session never imports the engine."""

    perception: Perception

    def policy_for(self, options: SessionOptions) -> DecisionPolicy: ...

    def response_runner(self, emit: Callable[[Event], None], session: Session) -> ResponseRunner: ...

    def on_session_start(self, session: Session) -> None: ...

    def on_session_end(self, session: Session) -> None: ...

    def on_barge_in(self, session: Session) -> None: ...


class Session:
    def __init__(self, engine: SessionHost, options: SessionOptions, on_event: Callable[[Event], None] | None = None):
        self.engine = engine
        self.options = options
        self.memory = Memory()
        self._on_event = on_event
        self._outbox: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._chunker = Chunker()
        self._perception = engine.perception.init_state()
        if self._perception.asr is not None:
            self._perception.asr.language = check_language(options.language)
            self._perception.asr.script = Script(options.script)
        self.policy = engine.policy_for(options)
        self.decision_state = self.policy.init_state()
        self.speaker = None  # spoken output (runtime/speech.py), set by the engine when --speak/--speak-to
        self.prefill_stop = threading.Event()  # set when the session ends: the engine's prefill of it stops
        self.timeline = Timeline()  # a response in flight keeps the stream's clock to the wall clock's pace
        self.responses = engine.response_runner(self._emit, self)
        self._ids = itertools.count(1)
        self._chunk_ms = LatencyHistogram()
        self._lock = threading.Lock()  # feed() and finish() from one caller at a time
        self._started = time.perf_counter()
        self._last_chunk: Chunk | None = None
        self._counts = collections.Counter()
        self._closed = False
        self._finals_pending = 0
        self._finals_done = threading.Condition()
        self._watched_segment = -1  # last segment whose final text is awaited (an early close is seen twice)
        self._finals_known = -1  # last segment whose final is known (finals resolve in segment order)
        self._due_finals: collections.deque = collections.deque()  # (chunk index it is due by, its future)
        engine.on_session_start(self)
        self._report_tasks()

    # ---- input ----
    def feed(self, samples: np.ndarray) -> list[Event]:
        """Push 16 kHz mono float32 samples (any length); returns the events produced so far."""
        with self._lock:
            if self._closed:
                raise RuntimeError("session is finished")
            if self.speaker is not None and self.speaker.gating:
                samples = np.zeros_like(np.asarray(samples, dtype=np.float32))  # never hear our own voice
            for chunk in self._chunker.push(samples):
                self._process(chunk)
            self._listen_ahead()
        return self.drain()

    def finish(self, timeout: float = FINISH_TIMEOUT_S) -> list[Event]:
        """End of stream: the remainder becomes a last (padded) chunk, open segments close, responses complete."""
        with self._lock:
            if self._closed:
                return self.drain()
            for chunk in self._chunker.flush():
                self._process(chunk)
            if self._last_chunk is not None:
                obs = self.engine.perception.flush(self._last_chunk, self._perception)
                self._after_perception(obs)
                self._act(obs, self.policy.decide(obs, self.decision_state), emit_decision=False)
                self._report_tasks()
            with self._finals_done:
                self._finals_done.wait_for(lambda: self._finals_pending == 0, timeout)
            if not self.responses.wait_idle(timeout):
                self._emit(ErrorEvent(f"responses still running after {timeout:.0f} s; summary written anyway"))
            if self.speaker is not None:
                self.speaker.finish(self.stream_time)
            self.responses.close()
            self._closed = True
            self._emit(self._summary())
            self.engine.on_session_end(self)
        return self.drain()

    def close(self) -> None:
        """Abandon the stream (its client is gone): stop responses, free per-stream state; no flush, no summary."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.responses.close()
            if self.speaker is not None:
                self.speaker.close()
            self.engine.on_session_end(self)

    def drain(self) -> list[Event]:
        events = []
        while True:
            try:
                events.append(self._outbox.get_nowait())
            except queue.Empty:
                return events

    # ---- the loop ----
    def _process(self, chunk: Chunk) -> None:
        if self.timeline.hold(chunk.t1) > 0:  # a response in flight: the chunk is heard when it is due
            chunk = dataclasses.replace(chunk, arrived=time.perf_counter())
        start = time.perf_counter()
        obs = self.engine.perception.step(chunk, self._perception)
        self._after_perception(obs)
        waited = self._keep_final_schedule(chunk)
        decision = self.policy.decide(obs, self.decision_state)
        self._report_tasks()
        talking = self.responses.busy or self.timeline.speaking_at(chunk.t1)  # writing or saying a response
        if self.options.barge_in and talking and getattr(self.decision_state, "interrupt", False):
            self.engine.on_barge_in(self, chunk.t1)  # the policy heard the user really talking (decision/voice.py)
        self._act(obs, decision)
        self._last_chunk = chunk
        self._chunk_ms.add((time.perf_counter() - start - waited) * 1000.0)  # work, not the wait for the schedule

    def _listen_ahead(self) -> None:
        """Give perception the part of the next chunk that has arrived, so a segment may close before the chunk
        boundary (live sources deliver small blocks; a file's large blocks rarely leave much)."""
        ended = self.engine.perception.listen(self._chunker.take_ahead(), self._perception)
        if ended is not None:
            self._watch_final(ended)

    def _watch_final(self, ended) -> None:
        """Emit the segment's final transcript as soon as its decode is done (once per segment)."""
        if ended.segment <= self._watched_segment:
            return
        self._watched_segment = ended.segment
        with self._finals_done:
            self._finals_pending += 1
        self._due_finals.append((ready_chunk(int(ended.t1 / CHUNK_SECONDS), ended.t1), ended.final))
        ended.final.add_done_callback(self._final_ready)

    def _keep_final_schedule(self, chunk: Chunk) -> float:
        """Fed faster than real time (a file), a final would come chunks later than live, and decisions that read
        it would differ from a live run's. Ahead of the wall clock, a chunk therefore waits for the finals that live
        decoding has by then (perception/offline.py, the schedule the decision model was trained on). Live, the
        stream is never ahead and nothing waits. Returns the seconds waited."""
        start = time.perf_counter()
        while self._due_finals and self._due_finals[0][0] <= chunk.index:
            _, final = self._due_finals.popleft()
            if chunk.t1 - (time.perf_counter() - self._started) > AHEAD_S:
                futures.wait([final], FINAL_WAIT_MAX_S)
        return time.perf_counter() - start

    def _after_perception(self, obs: Observation) -> None:
        """Turn perception results into events, and keep the bounded memory up to date."""
        vad, sounds, asr = obs.vad, obs.sounds, obs.asr
        if vad is not None:
            if vad.started_at is not None:
                self._emit(SpeechEvent(round(vad.started_at, 3), True))
            if vad.ended_at is not None:
                self._emit(SpeechEvent(round(vad.ended_at, 3), False))
        if sounds is not None:
            for on in sounds.onsets:
                self._counts["sounds"] += 1
                event = SoundEvent(round(on.t0, 3), None, on.label, round(on.score, 3), "start")
                self.memory.sounds.append(event)
                self._emit(event)
            for off in sounds.offsets:
                event = SoundEvent(round(off.t0, 3), round(off.t1, 3), off.label, round(off.peak, 3), "end")
                self.memory.sounds.append(event)
                self._emit(event)
        if asr is not None:
            if asr.partial is not None and asr.partial.text:
                p = asr.partial
                self._emit(
                    TranscriptEvent(round(p.t0, 3), round(p.t1, 3), p.text, False, p.lang, p.stable, p.segment)
                )
            if asr.ended is not None:
                self._watch_final(asr.ended)

    def _final_ready(self, future) -> None:
        try:
            self._emit_final(future)
        finally:
            with self._finals_done:
                self._finals_pending -= 1
                if not future.cancelled() and future.exception() is None:
                    self._finals_known = max(self._finals_known, future.result().segment)
                self._finals_done.notify_all()

    def final_of(self, segment: int, timeout_s: float, stop: threading.Event | None = None) -> FinalText | None:
        """The final (Whisper base) text of spoken segment `segment`, waiting up to `timeout_s` for it (any thread)
        and no longer once `stop` is set (a response stopped by barge-in); None if it is not known by then or has no
        text. Responders use it to replace a partial heard earlier."""
        deadline = time.monotonic() + timeout_s
        with self._finals_done:
            while self._finals_known < segment and not (stop is not None and stop.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._finals_done.wait(left if stop is None else min(left, STOP_POLL_S))
        return next((f for f in reversed(self.memory.transcripts) if f.segment == segment), None)

    def _emit_final(self, future) -> None:
        try:
            final: FinalText = future.result()
        except Exception as e:  # noqa: BLE001 - reported as an error event; listening goes on
            self._emit(ErrorEvent(f"final recognition failed: {type(e).__name__}: {e}"))
            return
        if not final.text:
            return
        self._counts["transcripts"] += 1
        self.memory.transcripts.append(final)
        self._emit(
            TranscriptEvent(round(final.t0, 3), round(final.t1, 3), final.text, True, final.lang, final.text,
                            final.segment)
        )

    def _act(self, obs: Observation, decision: Decision, emit_decision: bool = True) -> None:
        chunk = obs.chunk
        if emit_decision:
            self._emit(
                DecisionEvent(chunk.index, round(chunk.t1, 3), decision.action.value,
                              decision.task.value if decision.task else None, decision.reason,
                              decision.payload.get("question_segment"))
            )
        if decision.responds:
            request = ResponseRequest(f"r{next(self._ids)}", decision, chunk.index, round(chunk.t1, 3),
                                      chunk.arrived)
            self.responses.submit(request)

    def instruct(self, text: str):
        """Control API: change the session's task now, as if it had been spoken ("translate into Spanish").

        Takes effect at the next chunk; raises ValueError when the text is not an instruction."""
        instruct = getattr(self.policy, "instruct", None)
        parsed = instruct(self.decision_state, text) if instruct is not None else None
        if parsed is None:
            raise ValueError(f"not an instruction listenloop understands: {text!r} (see docs/conversation.md)")
        return parsed

    def _report_tasks(self) -> None:
        """Task-state changes the policy made (spoken, option, control) become task events."""
        changes = getattr(self.decision_state, "changes", None)
        while changes:
            c = changes.pop(0)
            detail = {**c.state.detail(), **({"instruction": c.instruction.text} if c.instruction else {})}
            self._emit(TaskEvent(round(c.t, 3), c.state.mode.value, detail, c.source))

    def _emit(self, event: Event) -> None:
        if self.speaker is not None:
            self.speaker.observe(event)
        if self._on_event is not None:
            self._on_event(event)
        else:
            self._outbox.put(event)

    # ---- bookkeeping ----
    @property
    def chunks(self) -> int:
        return self._chunker.chunks_emitted

    @property
    def stream_time(self) -> float:
        return self._chunker.chunks_emitted * SAMPLES_PER_CHUNK / SAMPLE_RATE

    def _summary(self) -> SummaryEvent:
        wall = time.perf_counter() - self._started
        audio = self.stream_time
        lat = self.responses.latency
        return SummaryEvent(
            chunks=self.chunks,
            audio_s=round(audio, 3),
            wall_s=round(wall, 3),
            rtf=round(wall / audio, 4) if audio else 0.0,
            chunk_ms_p50=round(self._chunk_ms.percentile(50), 2),
            chunk_ms_p95=round(self._chunk_ms.percentile(95), 2),
            chunk_ms_max=round(self._chunk_ms.max_ms, 2),
            responses=sum(self.responses.counts.values()),
            transcripts=self._counts["transcripts"],
            sounds=self._counts["sounds"],
            response_latency_ms_p50=round(lat.percentile(50), 1) if lat.count else None,
            counts=dict(self.responses.counts),
        )
