"""One live stream: PCM in, typed events out. Per-stream state lives here; the models live in the Engine.

    session = engine.session(SessionOptions())
    for block in blocks:
        for event in session.feed(block):   # any block size, 16 kHz mono float32
            ...
    for event in session.finish():          # flush, wait for responses, summary
        ...

`session.reset()` starts a new stream on the same session (runtime/stream_state.py).

Listening never waits for a response: responses are produced by a worker thread and their events show up
in the next feed()/drain() (or are handed to `on_event` as soon as they exist).
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from listenloop.audio.chunker import Chunk
from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.decision.base import DEFAULT_DECIDER, Decider, Decision
from listenloop.decision.text.address import checked_names
from listenloop.perception.language import Script, check_language
from listenloop.perception.observation import FinalText, Observation
from listenloop.perception.pipeline import PerceptionState
from listenloop.respond.base import Responder, ResponseContext, ResponseRequest
from listenloop.runtime.control import Control, ControlKind
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
from listenloop.runtime.responses import ResponseRunner
from listenloop.runtime.stream_state import StreamState
from listenloop.vocabulary import Mode, Task

if TYPE_CHECKING:
    from listenloop.decision.conversation import ConversationPolicy
    from listenloop.decision.text.instructions import Instruction, TaskChange
    from listenloop.perception.pipeline import Perception
    from listenloop.runtime.load import LoadGovernor
    from listenloop.runtime.speech import Speaker

FINISH_TIMEOUT_S = 120.0  # s to wait for outstanding responses at the end of a stream


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


class SessionHost(Protocol):
    """What a session needs from the engine that made it: the shared models and the per-session hooks. The engine
    implements it (runtime/engine.py); the session never imports the engine."""

    perception: Perception
    responders: dict[Task, Responder]
    load: LoadGovernor

    def policy_for(self, options: SessionOptions) -> ConversationPolicy: ...

    def on_session_start(self, session: Session) -> None: ...

    def on_session_end(self, session: Session) -> None: ...


class Session:
    def __init__(self, engine: SessionHost, options: SessionOptions, on_event: Callable[[Event], None] | None = None):
        self.engine = engine
        self.options = options
        self._on_event = on_event
        self._outbox: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.policy = engine.policy_for(options)
        self.stream = StreamState(self._new_perception, self.policy.init_state, self._emit_final)  # per-stream state
        self.speaker = self._speaker()  # spoken output (runtime/speech.py) when options.speech asks for it
        self.prefill_stop = threading.Event()  # set when the session ends: the engine's prefill of it stops
        self.responses = ResponseRunner(engine.responders, self._emit, self.response_context, self.stream.timeline,
                                        self.stream.responses)
        self._lock = threading.Lock()  # feed(), finish() and reset() from one caller at a time
        self._closed = False
        engine.on_session_start(self)
        self._report_tasks(self.policy.changes(self.stream.decision))

    def _new_perception(self) -> PerceptionState:
        state = self.engine.perception.init_state()
        if state.asr is not None:
            state.asr.language = check_language(self.options.language)
            state.asr.script = Script(self.options.script)
        return state

    def _speaker(self) -> Speaker | None:
        speech = self.options.speech
        if speech is None:
            return None
        from listenloop.runtime.speech import Speaker

        return Speaker(self._emit, speech.write_to, play=speech.play, gate=speech.gate, timeline=self.stream.timeline)

    def response_context(self) -> ResponseContext:
        """What a response may read of this stream (a fresh context per response, with its own cancel signal)."""
        return ResponseContext(memory=self.stream.memory, finals=self.stream.finals, name=self.options.name)

    @property
    def mode(self) -> Mode:
        """The mode of the task in force (the policy's state)."""
        return self.stream.decision.task.mode

    # ---- input ----
    def feed(self, samples: np.ndarray) -> list[Event]:
        """Push 16 kHz mono float32 samples (any length); returns the events produced so far."""
        with self._lock:
            if self._closed:
                raise RuntimeError("session is finished")
            if self.speaker is not None and self.speaker.gating:
                samples = np.zeros_like(np.asarray(samples, dtype=np.float32))  # never hear our own voice
            for chunk in self.stream.chunker.push(samples):
                self._process(chunk)
            self._listen_ahead()
        return self.drain()

    def report_backlog(self, seconds: float) -> None:
        """A live source's audio waiting behind what is fed next (the server's queued frames), reported before it:
        while the engine's live streams fall behind, this one's partials come at pauses only (runtime/load.py).
        Sources that never call it (files) are never shed."""
        pauses_only = self.engine.load.report(seconds)
        asr = self.stream.perception.asr
        if asr is not None:
            asr.pauses_only = pauses_only

    def finish(self, timeout: float = FINISH_TIMEOUT_S) -> list[Event]:
        """End of stream: the remainder becomes a last (padded) chunk, open segments close, responses complete."""
        with self._lock:
            if self._closed:
                return self.drain()
            for chunk in self.stream.chunker.flush():
                self._process(chunk)
            if self.stream.last_chunk is not None:
                obs = self.engine.perception.flush(self.stream.last_chunk, self.stream.perception)
                self._after_perception(obs)
                self.stream.finals.wait_all(timeout)  # the last decision reads every final text: a file that ends
                # 0.2 s after a question is judged as a live stream is once Whisper base has heard it
                outcome = self.policy.step(obs, self.stream.decision)
                self._report_tasks(outcome.changes)
                self._act(obs, outcome.decision, emit_decision=False)
            self.stream.finals.wait_all(timeout)
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

    def reset(self, timeout: float = FINISH_TIMEOUT_S) -> list[Event]:
        """A new stream on this session: the response in flight is stopped and those waiting dropped, the finals
        still decoding are reported, then every per-stream state (runtime/stream_state.py) starts afresh, as in a
        new session with the same options. No flush and no summary of the stream that ends; returns its last
        events."""
        with self._lock:
            if self._closed:
                raise RuntimeError("session is finished")
            self.responses.cancel_all()
            self.stream.finals.wait_all(timeout)
            if not self.responses.wait_idle(timeout):
                self._emit(ErrorEvent(f"a response still running after {timeout:.0f} s; the stream is reset anyway"))
            if self.speaker is not None:
                self.speaker.new_stream()
            self.stream.reset()
            self._report_tasks(self.policy.changes(self.stream.decision))
        return self.drain()

    def drain(self) -> list[Event]:
        events = []
        while True:
            try:
                events.append(self._outbox.get_nowait())
            except queue.Empty:
                return events

    # ---- the loop ----
    def _process(self, chunk: Chunk) -> None:
        if self.stream.timeline.hold(chunk.t1) > 0:  # a response in flight: the chunk is heard when it is due
            chunk = dataclasses.replace(chunk, arrived=time.perf_counter())
        start = time.perf_counter()
        obs = self.engine.perception.step(chunk, self.stream.perception)
        self._after_perception(obs)
        waited = self.stream.finals.keep_schedule(chunk)
        outcome = self.policy.step(obs, self.stream.decision)
        self._report_tasks(outcome.changes)
        self._signal(chunk, outcome.barge_in)
        self._steer()  # before the chunk's decision acts: a barge-in stops the old response, not the new one
        self._act(obs, outcome.decision)
        self.stream.last_chunk = chunk
        self.stream.chunk_ms.add((time.perf_counter() - start - waited) * 1000.0)  # work, not the wait for the schedule

    def _signal(self, chunk: Chunk, barge_in: bool) -> None:
        """The policy's per-chunk signals for the responses in flight become control messages on the stream's lane
        (runtime/control.py). The one place the runtime reads the policy's barge-in signal: the policy heard the
        user really talking (decision/voice.py) while a response is being written or said."""
        talking = self.responses.busy or self.stream.timeline.speaking_at(chunk.t1)
        if self.options.barge_in and talking and barge_in:
            self.stream.controls.put(Control(ControlKind.BARGE_IN, chunk.t1))

    def _steer(self) -> None:
        """Consume the stream's control lane: the response runner and the speaker apply each message in order."""
        for control in self.stream.controls.take():
            self.responses.apply(control)
            if self.speaker is not None:
                self.speaker.apply(control)

    def _listen_ahead(self) -> None:
        """Give perception the part of the next chunk that has arrived, so a segment may close before the chunk
        boundary (live sources deliver small blocks; a file's large blocks rarely leave much)."""
        ended = self.engine.perception.listen(self.stream.chunker.take_ahead(), self.stream.perception)
        if ended is not None:
            self.stream.finals.watch(ended)

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
                self.stream.counts["sounds"] += 1
                event = SoundEvent(round(on.t0, 3), None, on.label, round(on.score, 3), "start")
                self.stream.memory.sounds.append(event)
                self._emit(event)
            for off in sounds.offsets:
                event = SoundEvent(round(off.t0, 3), round(off.t1, 3), off.label, round(off.peak, 3), "end")
                self.stream.memory.sounds.append(event)
                self._emit(event)
        if asr is not None:
            if asr.partial is not None and asr.partial.text:
                p = asr.partial
                self._emit(
                    TranscriptEvent(round(p.t0, 3), round(p.t1, 3), p.text, False, p.lang, p.stable, p.segment)
                )
            if asr.ended is not None:
                self.stream.finals.watch(asr.ended)

    def _emit_final(self, future) -> None:
        try:
            final: FinalText = future.result()
        except Exception as e:  # noqa: BLE001 - reported as an error event; listening goes on
            self._emit(ErrorEvent(f"final recognition failed: {type(e).__name__}: {e}"))
            return
        if not final.text:
            return
        self.stream.counts["transcripts"] += 1
        self.stream.memory.transcripts.append(final)
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
            request = ResponseRequest(f"r{next(self.stream.ids)}", decision, chunk.index, round(chunk.t1, 3),
                                      chunk.arrived)
            self.responses.submit(request)

    def instruct(self, text: str) -> Instruction:
        """Control API: change the session's task now, as if it had been spoken ("translate into Spanish").

        Takes effect at the next chunk; raises ValueError when the text is not an instruction."""
        parsed = self.policy.instruct(self.stream.decision, text)
        if parsed is None:
            raise ValueError(f"not an instruction listenloop understands: {text!r} (see docs/conversation.md)")
        return parsed

    def _report_tasks(self, changes: tuple[TaskChange, ...]) -> None:
        """Task-state changes the policy made (spoken, option, control) become task events."""
        for c in changes:
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
        return self.stream.chunker.chunks_emitted

    @property
    def stream_time(self) -> float:
        return self.stream.chunker.chunks_emitted * SAMPLES_PER_CHUNK / SAMPLE_RATE

    def _summary(self) -> SummaryEvent:
        wall = time.perf_counter() - self.stream.started
        audio = self.stream_time
        lat = self.stream.responses.latency
        return SummaryEvent(
            chunks=self.chunks,
            audio_s=round(audio, 3),
            wall_s=round(wall, 3),
            rtf=round(wall / audio, 4) if audio else 0.0,
            chunk_ms_p50=round(self.stream.chunk_ms.percentile(50), 2),
            chunk_ms_p95=round(self.stream.chunk_ms.percentile(95), 2),
            chunk_ms_max=round(self.stream.chunk_ms.max_ms, 2),
            responses=sum(self.stream.responses.counts.values()),
            transcripts=self.stream.counts["transcripts"],
            sounds=self.stream.counts["sounds"],
            response_latency_ms_p50=round(lat.percentile(50), 1) if lat.count else None,
            counts=dict(self.stream.responses.counts),
        )
