"""Typed events: everything a session tells the outside world. `to_dict()` is the JSON-lines wire form.

Documented in docs/events.md; every event has a `type` and stream times in seconds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, ClassVar

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE


@dataclass(frozen=True)
class Event:
    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for key, value in asdict(self).items():
            out[key] = value.value if isinstance(value, Enum) else value
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass(frozen=True)
class DecisionEvent(Event):
    type: ClassVar[str] = "decision"
    chunk: int  # chunk index
    t: float  # stream time at the end of the chunk, s
    action: str  # "silent" | "respond" | "withdraw" (an answer taken back before it was said)
    task: str | None = None  # the task when action is "respond" (or the one taken back)
    reason: str = ""  # why (rule, class, score)
    question_segment: int | None = None  # answers and their withdrawals: the segment that ends the question


def answers_given(events: list[Event]) -> list[DecisionEvent]:
    """The decisions to answer, less those taken back before they were said (a `withdraw` of the same segment)."""
    taken_back = {e.question_segment for e in events if isinstance(e, DecisionEvent) and e.action == "withdraw"}
    return [e for e in events if isinstance(e, DecisionEvent) and e.action == "respond" and e.task == "answer"
            and (e.question_segment is None or e.question_segment not in taken_back)]


@dataclass(frozen=True)
class TranscriptEvent(Event):
    type: ClassVar[str] = "transcript"
    t0: float  # stream time where the segment starts, s
    t1: float  # stream time where it ends (so far, for partials), s
    text: str  # full current text of the segment
    final: bool  # False: a partial hypothesis that may still change; True: settled
    lang: str | None = None  # ISO 639-1 code, when known
    stable: str = ""  # partials: the prefix that successive hypotheses agree on
    segment: int = 0  # segment number within the stream; partials and the final of one segment share it


@dataclass(frozen=True)
class ResponseStartEvent(Event):
    type: ClassVar[str] = "response_start"
    id: str
    t: float  # stream time of the deciding chunk's end, s
    task: str
    emotion: str = "normal"


@dataclass(frozen=True)
class ResponseDeltaEvent(Event):
    type: ClassVar[str] = "response_delta"
    id: str
    text: str  # newly generated text, to append


@dataclass(frozen=True)
class ResponseEvent(Event):
    type: ClassVar[str] = "response"
    id: str  # unique within the session
    t: float  # stream time of the deciding chunk's end, s
    task: str  # Task value
    text: str  # the complete response text
    latency_ms: float  # wall time from the deciding chunk's arrival to the first text, ms
    emotion: str = "normal"  # Emotion value
    label: str | None = None  # the sound class behind a sound response
    interrupted: bool = False  # stopped by barge-in before it was complete
    duration_ms: float = 0.0  # wall time from the decision to the complete text, ms
    lang: str | None = None  # language of the text (ISO 639-1), when the responder knows it
    extra: dict[str, Any] = field(default_factory=dict)  # task-specific details (segment, language, ...)


@dataclass(frozen=True)
class SoundEvent(Event):
    type: ClassVar[str] = "sound"
    t0: float  # onset, stream time s
    t1: float | None  # offset; None while the sound is still going on (the start event)
    label: str  # AudioSet display name
    score: float  # peak score so far, 0..1
    state: str = "start"  # "start" | "end"


@dataclass(frozen=True)
class SpeechEvent(Event):
    type: ClassVar[str] = "speech"
    t: float  # stream time of the change, s
    active: bool  # True when voice activity starts, False when it ends


@dataclass(frozen=True)
class TaskEvent(Event):
    type: ClassVar[str] = "task"
    t: float  # stream time the instruction took effect, s
    mode: str  # the session's mode: "assistant" | "transcribe" | "translate" | ...
    detail: dict[str, Any] = field(default_factory=dict)  # target language, counted label, muted, ...
    source: str = "speech"  # "speech" | "option" | "control"


@dataclass(frozen=True, eq=False)
class AudioEvent(Event):
    """Spoken output (--speak): one synthesized sentence. JSON carries its duration; servers send the samples."""

    type: ClassVar[str] = "audio"
    id: str  # the response it speaks
    t: float  # stream time where it starts on the output timeline, s
    samples: np.ndarray = field(repr=False)  # float32 mono at 16 kHz; not in to_dict()
    text: str = ""  # the sentence spoken

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "t": self.t, "text": self.text,
                "duration_s": round(len(self.samples) / SAMPLE_RATE, 3), "sample_rate": SAMPLE_RATE}


@dataclass(frozen=True)
class ErrorEvent(Event):
    type: ClassVar[str] = "error"
    message: str
    fatal: bool = False


@dataclass(frozen=True)
class SummaryEvent(Event):
    type: ClassVar[str] = "summary"
    chunks: int  # decisions made
    audio_s: float  # stream length processed, s
    wall_s: float  # wall time, s
    rtf: float  # wall_s / audio_s
    chunk_ms_p50: float  # per-chunk processing time, ms
    chunk_ms_p95: float
    chunk_ms_max: float
    responses: int
    transcripts: int  # final transcripts
    sounds: int  # sound onsets
    response_latency_ms_p50: float | None = None
    counts: dict[str, int] = field(default_factory=dict)  # responses per task
