"""The one place a conversation policy is assembled, for the engine (runtime/engine.py) and the decision bench alike
(bench/decisions.py), so that what the bench and training measure is the object a session runs.

    resources = PolicyResources(SoundPolicy.load())         # once per process: shared, loaded on first use
    policy = build_policy(PolicySpec(mode=Mode.TRANSCRIBE), resources)  # per stream: cheap
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from listenloop.decision.base import DEFAULT_DECIDER, Decider
from listenloop.vocabulary import Mode

if TYPE_CHECKING:
    from listenloop.decision.conversation import ConversationPolicy
    from listenloop.decision.model.learned import DecisionModel
    from listenloop.decision.model.timing import LearnedTiming
    from listenloop.decision.sounds.sound_policy import SoundPolicy


@dataclass(frozen=True)
class Judge:
    """The learned decider's settings (decision/timing.py LearnedTiming); None: the shipped default."""

    confirm: float | None = None  # P(response) at which a response the rules want goes at once
    patience_s: float | None = None  # ... or once the pause is this long, if P reached doubt_p since the voice stopped
    doubt_p: float | None = None
    caption_confirm: float | None = None  # ... for a caption (CAPTION_CONFIRM_P; `confirm` given alone sets both)


SHIPPED_JUDGE = Judge()  # the learned decider's shipped settings


@dataclass(frozen=True)
class PolicySpec:
    """What one stream's policy is: everything a session's options or a bench contender choose."""

    mode: Mode = Mode.ASSISTANT  # the task in force at the start
    decider: Decider = DEFAULT_DECIDER  # who decides whether and when speech is answered
    judge: Judge = SHIPPED_JUDGE  # the learned decider's settings (Decider.CLOCK and LEARNED)
    names: tuple[str, ...] = ()  # the assistant's name and aliases (decision/address.py); empty: it has none
    instruction: str | None = None  # an instruction in force from the start ("translate into Chinese")
    sounds: bool = True  # respond to sounds by the sound policy
    sound_policy_path: Path | None = None  # a sound-policy file for this stream instead of the shared default


class PolicyResources:
    """What every policy of a process shares, each loaded once: the default sound policy, the AudioSet class names,
    the decision model and one LearnedTiming per decider and judge (stateless: the per-stream part is TimingState).
    Thread-safe: sessions are made from any thread."""

    def __init__(self, sound_policy: SoundPolicy | None, load_model: Callable[[], DecisionModel] | None = None,
                 class_names: tuple[str, ...] | None = None) -> None:
        self.sound_policy = sound_policy  # None: this process tags no sounds (no sound policy, no class names)
        self._load_model = load_model  # None: the shipped model (decision/learned.py WEIGHTS_PATH)
        self._class_names = class_names  # None: read from the packaged YAMNet class map on first use
        self._model: DecisionModel | None = None
        self._timing: dict[tuple[Decider, Judge], LearnedTiming] = {}
        self._lock = threading.Lock()

    @property
    def class_names(self) -> tuple[str, ...]:
        if self._class_names is None:
            from listenloop.perception.sounds import load_class_names

            self._class_names = load_class_names()
        return self._class_names

    @property
    def model(self) -> DecisionModel:
        """The decision model, loaded on first use (DecisionModelError when there is none)."""
        with self._lock:
            if self._model is None:
                from listenloop.decision.model.learned import DecisionModel

                self._model = self._load_model() if self._load_model is not None else DecisionModel.load()
            return self._model

    def timing(self, decider: Decider, judge: Judge = SHIPPED_JUDGE) -> LearnedTiming:
        """The learned model as the conversation's clock (Decider.CLOCK) or judge (Decider.LEARNED)."""
        if decider is Decider.RULES:
            raise ValueError("the rules decider has no learned timing")
        from listenloop.decision.model.timing import LearnedTiming

        model, names = self.model, self.class_names
        with self._lock:
            if (decider, judge) not in self._timing:
                self._timing[decider, judge] = LearnedTiming(
                    model, names, decides=decider is Decider.LEARNED, confirm=judge.confirm,
                    patience_s=judge.patience_s, doubt_p=judge.doubt_p, caption_confirm=judge.caption_confirm)
            return self._timing[decider, judge]

    def sound_policy_for(self, spec: PolicySpec) -> SoundPolicy | None:
        if not spec.sounds or self.sound_policy is None:
            return None
        if spec.sound_policy_path is None:
            return self.sound_policy
        from listenloop.decision.sounds.sound_policy import SoundPolicy

        return SoundPolicy.load([spec.sound_policy_path])


def build_policy(spec: PolicySpec, resources: PolicyResources) -> ConversationPolicy:
    """The conversation policy of one stream (InstructionError when spec.instruction is not an instruction)."""
    from listenloop.decision.conversation import ConversationPolicy
    from listenloop.decision.text.instructions import initial_state

    task, instruction = initial_state(spec.mode, spec.instruction)
    sound_policy = resources.sound_policy_for(spec)
    class_names = resources.class_names if sound_policy is not None else ()
    timing = None if spec.decider is Decider.RULES else resources.timing(spec.decider, spec.judge)
    return ConversationPolicy(task, sound_policy, class_names, instruction, timing, spec.names)
