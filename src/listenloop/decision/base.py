"""The decision made after every chunk: stay silent, or respond with a task. One interface for every policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from listenloop.perception.observation import Observation


class Action(StrEnum):
    SILENT = "silent"  # keep listening
    RESPOND = "respond"  # start a response now (listening goes on)
    WITHDRAW = "withdraw"  # take back a response decided earlier, before anything of it was said (its task, payload)


class Task(StrEnum):
    """What a response does. The session's mode decides which tasks are responses."""

    TRANSCRIBE = "transcribe"  # the final transcript of a spoken segment
    TRANSLATE = "translate"  # the segment in the target language
    ANSWER = "answer"  # a reply to a question or request addressed to the assistant
    ALERT = "alert"  # an urgent sound (alarm, glass, scream)
    ASK = "ask"  # a concerned check-in (cough, choking)
    NOTIFY = "notify"  # a sound worth mentioning (doorbell, dog)
    DESCRIBE = "describe"  # say what is heard
    ACKNOWLEDGE = "acknowledge"  # short confirmation of a spoken instruction


class Decider(StrEnum):
    """Who decides about speech in a conversation session (SessionOptions.decider, --decider)."""

    RULES = "rules"  # the conversation rules alone (decision/conversation.py)
    CLOCK = "clock"  # the rules decide whether, the learned model when (decision/timing.py)
    LEARNED = "learned"  # the learned model decides whether and when, the rules what (decision/timing.py)


DEFAULT_DECIDER = Decider.LEARNED  # the engine's default: it beats the rules and the timeouts on F1 and interruptions
# together (docs/benchmarks.md, issue 6, session 6)


class Emotion(StrEnum):
    """Emotion/urgency tag of a response (the reference system's labels plus `concerned`)."""

    NORMAL = "normal"
    HAPPY = "happy"
    SAD = "sad"
    ANGRY = "angry"
    SURPRISE = "surprise"
    CONCERNED = "concerned"
    URGENT = "urgent"


@dataclass(frozen=True)
class Decision:
    action: Action
    task: Task | None = None  # set when action is RESPOND (or WITHDRAW: the task taken back)
    reason: str = ""  # short human-readable why (rule name, class, score)
    emotion: Emotion = Emotion.NORMAL
    payload: dict[str, Any] = field(default_factory=dict)  # task inputs (segment, sound label, ...)

    @classmethod
    def silent(cls, reason: str = "") -> Decision:
        return cls(Action.SILENT, reason=reason)

    @classmethod
    def respond(cls, task: Task, reason: str = "", emotion: Emotion = Emotion.NORMAL, **payload: Any) -> Decision:
        return cls(Action.RESPOND, task, reason, emotion, dict(payload))

    @classmethod
    def withdraw(cls, task: Task, reason: str = "", **payload: Any) -> Decision:
        return cls(Action.WITHDRAW, task, reason, Emotion.NORMAL, dict(payload))

    @property
    def responds(self) -> bool:
        return self.action is Action.RESPOND


class DecisionPolicy(Protocol):
    """Observations of one chunk -> one decision. State per stream lives in the object from init_state()."""

    def init_state(self) -> Any: ...

    def decide(self, obs: Observation, state: Any) -> Decision: ...


class Mode(StrEnum):
    """What a session is for; spoken instructions and options change it."""

    ASSISTANT = "assistant"  # answer what is addressed to it, speak up for sounds, silent otherwise
    TRANSCRIBE = "transcribe"  # every final transcript is a response
    TRANSLATE = "translate"  # every final segment, translated, is a response
    QUIET = "quiet"  # "be quiet": only urgent alerts
