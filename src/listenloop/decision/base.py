"""The decision made after every chunk: stay silent, or respond with a task. One interface for every policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from listenloop.vocabulary import Emotion, Task

if TYPE_CHECKING:
    from listenloop.decision.text.instructions import TaskChange
    from listenloop.perception.observation import Observation


class Action(StrEnum):
    SILENT = "silent"  # keep listening
    RESPOND = "respond"  # start a response now (listening goes on)
    WITHDRAW = "withdraw"  # take back a response decided earlier, before anything of it was said (its task, payload)


class Decider(StrEnum):
    """Who decides about speech in a conversation session (SessionOptions.decider, --decider)."""

    RULES = "rules"  # the conversation rules alone (decision/conversation.py)
    CLOCK = "clock"  # the rules decide whether, the learned model when (decision/timing.py)
    LEARNED = "learned"  # the learned model decides whether and when, the rules what (decision/timing.py)


DEFAULT_DECIDER = Decider.LEARNED  # beats rules and timeouts on F1 and interruptions together (docs/benchmarks.md)


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


@dataclass(frozen=True)
class Outcome:
    """All that one chunk's decision says (ConversationPolicy.step): the decision; whether the user really talks
    over a response (barge-in: the runtime stops one in flight); the task changes made since the last chunk."""

    decision: Decision
    barge_in: bool = False
    changes: tuple[TaskChange, ...] = ()


StateT = TypeVar("StateT")  # a policy's per-stream state


class DecisionPolicy(Protocol[StateT]):
    """Observations of one chunk -> one decision. State per stream lives in the object from init_state()."""

    def init_state(self) -> StateT: ...

    def decide(self, obs: Observation, state: StateT) -> Decision: ...


