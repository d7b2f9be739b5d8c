"""The hand-written interaction rules: transcripts in transcription mode, sound responses from the sound policy.

Later policies (conversation, learned) implement the same DecisionPolicy interface and may wrap this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from listenloop.decision.base import Decision
from listenloop.perception.observation import Observation
from listenloop.vocabulary import Mode, Task

if TYPE_CHECKING:
    from listenloop.decision.sounds.sound_policy import SoundPolicy, SoundPolicyState


@dataclass
class RulesState:
    mode: Mode  # the session's current mode
    sounds: SoundPolicyState | None = None  # the sound policy's per-stream state

    def reset(self) -> None:
        if self.sounds is not None:
            self.sounds.reset()


class RulePolicy:
    """Respond to a closed spoken segment in transcription mode; otherwise defer to the sound policy."""

    def __init__(self, mode: Mode = Mode.TRANSCRIBE, sound_policy: SoundPolicy | None = None) -> None:
        self.mode = mode
        self.sound_policy = sound_policy

    def init_state(self) -> RulesState:
        return RulesState(self.mode, self.sound_policy.init_state() if self.sound_policy else None)

    def decide(self, obs: Observation, state: RulesState) -> Decision:
        sound = self.sound_policy.decide(obs, state.sounds) if self.sound_policy else Decision.silent()
        if sound.responds and sound.emotion.value == "urgent":
            return sound  # an alarm outranks everything, in every mode
        if state.mode is Mode.QUIET:
            return Decision.silent("quiet mode")
        ended = obs.asr.ended if obs.asr else None
        if state.mode is Mode.TRANSCRIBE and ended is not None and ended.last_partial.strip():
            return Decision.respond(Task.TRANSCRIBE, f"segment {ended.segment} closed", segment=ended)
        if sound.responds:
            return sound
        return Decision.silent()
