"""The WebSocket wire protocol (docs/protocol.md): typed client messages, close codes, and event (de)serialization.

Client to server: one `start` text message, then binary PCM16 frames (16 kHz mono, any size) and text control
messages (`instruction`, `stop`). Server to client: a `ready` message, then every session event as JSON text; spoken
output as an `audio` JSON header followed by one binary PCM16 frame. Everything a client can get wrong maps to one
`ProtocolError` with a close code, so a bad client closes only its own session.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

import numpy as np

from listenloop.audio.constants import PCM16_BYTES_PER_SAMPLE, PCM16_FULL_SCALE, SAMPLE_RATE
from listenloop.decision.base import DEFAULT_DECIDER, Decider
from listenloop.decision.text.address import BadName, checked_names
from listenloop.perception.language import SPOKEN, Script
from listenloop.runtime import events as ev
from listenloop.runtime.session import SessionOptions, SpeechOutput
from listenloop.vocabulary import Mode

PROTOCOL_VERSION = 1  # bumped on any incompatible change of the messages below
MAX_INSTRUCTION_CHARS = 500  # characters; an instruction is a sentence, not a document


class CloseCode(IntEnum):
    """Why the server closed a session. 4xxx codes are this protocol's own (RFC 6455 reserves 4000-4999 for apps)."""

    NORMAL = 1000  # the client sent `stop`; every event, the summary last, was delivered
    INTERNAL_ERROR = 1011  # a bug on the server side; the message says what
    BAD_MESSAGE = 4400  # malformed JSON, an unknown message type, bad options, or messages out of order
    UNAUTHORIZED = 4401  # the server needs a token and the client gave none or a wrong one
    FORBIDDEN_ORIGIN = 4403  # a browser page from another origin
    TIMEOUT = 4408  # no `start` in time, no audio for too long, or the session reached its maximum length
    FRAME_TOO_LARGE = 4413  # a frame above the size limit
    BAD_AUDIO = 4415  # a binary frame that is not whole PCM16 samples
    TOO_FAST = 4429  # frames or audio arriving faster than the limits allow
    SERVER_BUSY = 4503  # the server already serves its maximum number of concurrent sessions
    FELL_BEHIND = 4504  # the server could not keep up with this stream (its backlog passed the limit)


class ClientType(StrEnum):
    START = "start"  # first message: session options
    INSTRUCTION = "instruction"  # a typed instruction, as if spoken ("translate into Spanish", "be quiet")
    STOP = "stop"  # end of stream: flush, finish responses, send the summary, close with NORMAL


class ServerType(StrEnum):
    READY = "ready"  # the session exists; audio may flow
    AUDIO = "audio"  # header of the binary PCM16 frame that follows (spoken output)
    CLOSING = "closing"  # sent just before the server closes a session for a reason other than `stop`


class ProtocolError(Exception):
    """A client mistake: the session is closed with `code`, and `reason` is sent as the close reason."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class StartOptions:
    """The `start` message's options. Server-side paths (policy files) are never taken from a client."""

    mode: Mode = Mode.ASSISTANT  # what the session is for at the start (as the CLI and the page)
    sounds: bool = True  # tag sounds and respond to them (only when the server loaded the tagger)
    instruction: str | None = None  # an instruction in force from the start
    barge_in: bool = True  # user speech during a response stops it
    speech: bool = False  # spoken responses: `audio` headers + binary PCM16 frames (when the server can speak)
    decider: Decider = DEFAULT_DECIDER  # who decides whether and when speech is answered (docs/conversation.md)
    name: str | None = None  # the assistant's name ("Hey Pascal, ..."); None: it has none (docs/conversation.md)
    aliases: tuple[str, ...] = ()  # other names it answers to
    language: str | None = None  # the language spoken (ISO 639-1); None: identified per segment
    script: Script = Script.SIMPLIFIED  # how Chinese transcripts are written

    def session_options(self) -> SessionOptions:
        return SessionOptions(mode=self.mode, sounds=self.sounds, instruction=self.instruction,
                              barge_in=self.barge_in, decider=self.decider, name=self.name, aliases=self.aliases,
                              language=self.language, script=self.script,
                              speech=SpeechOutput() if self.speech else None)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "sounds": self.sounds, "instruction": self.instruction,
                "barge_in": self.barge_in, "speech": self.speech, "decider": self.decider.value, "name": self.name,
                "aliases": list(self.aliases), "language": self.language, "script": self.script.value}


@dataclass(frozen=True)
class Start:
    options: StartOptions


@dataclass(frozen=True)
class Instruction:
    text: str


@dataclass(frozen=True)
class Stop:
    pass


ClientMessage = Start | Instruction | Stop


def _bad(reason: str) -> ProtocolError:
    return ProtocolError(CloseCode.BAD_MESSAGE, reason)


def _bool(options: dict[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise _bad(f"start option {key!r} must be true or false, not {value!r}")
    return value


def _choice(options: dict[str, Any], key: str, kind: type[StrEnum], default: StrEnum) -> Any:
    value = options.get(key, default.value)
    try:
        return kind(value)
    except ValueError:
        raise _bad(f"{key} {value!r} is not one of {', '.join(v.value for v in kind)}") from None


def _instruction_text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{where} must be a non-empty string")
    if len(value) > MAX_INSTRUCTION_CHARS:
        raise _bad(f"{where} is {len(value)} characters; the limit is {MAX_INSTRUCTION_CHARS}")
    return value.strip()


def parse_start_options(options: Any) -> StartOptions:
    if options is None:
        return StartOptions()
    if not isinstance(options, dict):
        raise _bad("start 'options' must be an object")
    known = {f.name for f in dataclasses.fields(StartOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise _bad(f"unknown start option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    mode = _choice(options, "mode", Mode, Mode.ASSISTANT)
    instruction = options.get("instruction")
    name, aliases = _names(options)
    return StartOptions(
        mode=mode,
        sounds=_bool(options, "sounds", True),
        instruction=None if instruction is None else _instruction_text(instruction, "start option 'instruction'"),
        barge_in=_bool(options, "barge_in", True),
        speech=_bool(options, "speech", False),
        decider=_choice(options, "decider", Decider, DEFAULT_DECIDER),
        name=name,
        aliases=aliases,
        language=_language(options.get("language")),
        script=_choice(options, "script", Script, Script.SIMPLIFIED),
    )


def _names(options: dict[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    name, aliases = options.get("name"), options.get("aliases", [])
    if name is not None and not isinstance(name, str):
        raise _bad(f"start option 'name' must be a string or null, not {name!r}")
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise _bad("start option 'aliases' must be a list of strings")
    try:
        names = checked_names(name, tuple(aliases))
    except BadName as e:
        raise _bad(f"start option 'name': {e}") from None
    return (names[0], names[1:]) if names else (None, ())


def _language(value: Any) -> str | None:
    if value is not None and value not in SPOKEN:
        raise _bad(f"start option 'language' must be null or one of {', '.join(SPOKEN)}, not {value!r}")
    return value


def parse_client_text(text: str) -> ClientMessage:
    """One text frame from the client -> a typed message, or ProtocolError(BAD_MESSAGE) saying what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise _bad(f"text frame is not JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(data, dict) or "type" not in data:
        raise _bad('text frame must be a JSON object with a "type"')
    kind = data["type"]
    try:
        message_type = ClientType(kind)
    except ValueError:
        raise _bad(f"unknown message type {kind!r}; expected one of {', '.join(t.value for t in ClientType)}") from None
    if message_type is ClientType.START:
        return Start(parse_start_options(data.get("options")))
    if message_type is ClientType.INSTRUCTION:
        return Instruction(_instruction_text(data.get("text"), "instruction 'text'"))
    return Stop()


def pcm16_frame_to_float(frame: bytes) -> np.ndarray:
    """A binary frame -> 16 kHz mono float32 samples; ProtocolError(BAD_AUDIO) for a partial sample."""
    if len(frame) % PCM16_BYTES_PER_SAMPLE:
        raise ProtocolError(CloseCode.BAD_AUDIO,
                            f"binary frame of {len(frame)} bytes is not whole PCM16 samples (2 bytes each)")
    return np.frombuffer(frame, dtype="<i2").astype(np.float32) / PCM16_FULL_SCALE


def float_to_pcm16_frame(samples: np.ndarray) -> bytes:
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return (clipped * (PCM16_FULL_SCALE - 1)).astype("<i2").tobytes()


# ---- client messages, as a client writes them ----
def start_message(options: StartOptions) -> str:
    return json.dumps({"type": ClientType.START.value, "options": options.to_dict()})


def instruction_message(text: str) -> str:
    return json.dumps({"type": ClientType.INSTRUCTION.value, "text": text})


def stop_message() -> str:
    return json.dumps({"type": ClientType.STOP.value})


# ---- server messages ----
def ready_message(session_id: str, limits: dict[str, Any], capabilities: dict[str, bool]) -> str:
    return json.dumps({"type": ServerType.READY.value, "protocol": PROTOCOL_VERSION, "session": session_id,
                       "sample_rate": SAMPLE_RATE, "limits": limits, "capabilities": capabilities})


def closing_message(code: CloseCode, reason: str) -> str:
    return json.dumps({"type": ServerType.CLOSING.value, "code": int(code), "name": code.name, "reason": reason})


def audio_samples(event: ev.Event) -> np.ndarray | None:
    """The spoken samples of an audio event (any event of type "audio" with `samples`), else None."""
    if event.type != ServerType.AUDIO.value:
        return None
    samples = getattr(event, "samples", None)
    return None if samples is None else np.asarray(samples, dtype=np.float32)


def audio_header(event: ev.Event, samples: np.ndarray) -> str:
    """The JSON header of an audio event (its JSON form, which leaves the samples out) plus their count."""
    return json.dumps({**event.to_dict(), "samples": int(len(samples)), "sample_rate": SAMPLE_RATE},
                      ensure_ascii=False)


def _event_classes() -> dict[str, type[ev.Event]]:
    classes = {}
    for value in vars(ev).values():
        if isinstance(value, type) and issubclass(value, ev.Event) and value is not ev.Event:
            classes[value.type] = value
    return classes


def event_from_dict(data: dict[str, Any]) -> ev.Event | None:
    """A server JSON event -> the typed runtime Event (None for protocol messages and unknown types)."""
    cls = _event_classes().get(data.get("type", ""))
    if cls is None or cls.type == ServerType.AUDIO.value:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError:
        return None
