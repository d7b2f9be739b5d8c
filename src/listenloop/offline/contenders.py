"""Contenders of the decision bench that the engine does not ship: baselines to measure the shipped decision against."""

from __future__ import annotations

from dataclasses import dataclass

from listenloop.decision.base import Decision
from listenloop.perception.observation import Observation
from listenloop.vocabulary import Mode, Task


@dataclass
class TimeoutState:
    armed: bool = False

    def reset(self) -> None:
        self.armed = False


class TimeoutPolicy:
    """Baseline: respond once when voice activity has been off for `seconds` (what many voice bots do)."""

    def __init__(self, seconds: float, mode: Mode) -> None:
        self.seconds = seconds
        self.task = {Mode.TRANSCRIBE: Task.TRANSCRIBE, Mode.TRANSLATE: Task.TRANSLATE}.get(mode, Task.ANSWER)

    def init_state(self) -> TimeoutState:
        return TimeoutState()

    def decide(self, obs: Observation, state: TimeoutState) -> Decision:
        if obs.vad is None:
            return Decision.silent()
        if obs.vad.speech:
            state.armed = True
        elif state.armed and obs.vad.silence_s >= self.seconds:
            state.armed = False
            return Decision.respond(self.task, f"silence {obs.vad.silence_s:.2f} s")
        return Decision.silent()
