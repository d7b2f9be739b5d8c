"""Smart Turn v3.2 as a cue of a finished turn, tried on the decision bench (`bench decisions --smart-turn P ...`).

A gate around the default decision: when the policy wants to respond to speech, Smart Turn hears the last 8 s up to
that chunk; below the threshold the response waits, heard again every chunk, until Smart Turn passes it or
GATE_PATIENCE_S has gone by (the policy's own response then goes out), and is dropped if the voice comes back first
(the speaker was not done). Sound responses (alerts, notices) pass untouched: the model judges speech.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from listenloop.decision.base import Action, Decision
from listenloop.perception.observation import Observation
from listenloop.vocabulary import Task

GATE_PATIENCE_S = 1.2  # s a held response waits at most: a finished turn is never left unanswered
SPEECH_TASKS = (Task.ANSWER, Task.TRANSCRIBE, Task.TRANSLATE)  # responses to speech, the ones the model can judge
BASE_POLICY = "conversation rules, learned decides"  # the engine's default decision (DEFAULT_DECIDER)


@dataclass
class GateState:
    inner: object  # the wrapped policy's state
    held: Decision | None = None  # a response waiting for Smart Turn
    held_since: float = 0.0  # stream time it was first wanted, s
    scores: int = 0  # Smart Turn calls made (cost)

    def reset(self) -> None:
        self.held = None


class SmartTurnGate:
    """The wrapped policy's decisions, responses to speech held until Smart Turn calls the turn finished."""

    def __init__(self, policy, model, audio: np.ndarray, threshold: float) -> None:
        self.policy, self.model, self.audio, self.threshold = policy, model, audio, threshold

    def init_state(self) -> GateState:
        return GateState(self.policy.init_state())

    def _finished(self, obs: Observation, state: GateState) -> bool:
        from listenloop.audio.constants import SAMPLE_RATE

        state.scores += 1
        return self.model.complete(self.audio[: int(round(obs.chunk.t1 * SAMPLE_RATE))]) >= self.threshold

    def decide(self, obs: Observation, state: GateState) -> Decision:
        decision = self.policy.decide(obs, state.inner)
        if decision.action is Action.WITHDRAW and state.held is not None:
            state.held = None  # taken back before it went out: nothing was said
            return Decision.silent("smart turn: withdrawn while held")
        if decision.responds and decision.task in SPEECH_TASKS:
            state.held, state.held_since = decision, obs.chunk.t1
        elif decision.responds or state.held is None:
            return decision
        if obs.vad is not None and obs.vad.speech and state.held is not decision:
            state.held = None  # the voice came back: the turn was not over
            return Decision.silent("smart turn: speech resumed")
        if obs.chunk.t1 - state.held_since >= GATE_PATIENCE_S or self._finished(obs, state):
            held, state.held = state.held, None
            return held
        return Decision.silent("smart turn: not finished")


def gated_policies(factories: dict, model, audio: np.ndarray, thresholds: tuple[float, ...]) -> dict:
    """`smart turn >= P` variants of the default decision, one per threshold, for one stream's audio."""
    base = factories.get(BASE_POLICY)
    if base is None or not thresholds:
        return {}
    return {f"{BASE_POLICY} + smart turn >= {p:g}": (lambda m, p=p: SmartTurnGate(base(m), model, audio, p))
            for p in thresholds}
