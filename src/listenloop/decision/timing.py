"""The learned decision model inside the conversation: as its clock (*when*), or as its judge (*whether* and when).

The conversation policy (decision/conversation.py) still decides *what* happens: instructions, answers, translation,
counting, and sounds by the user's policy file. With a `LearnedTiming`, an answer the rules want is given in the
first chunk where the model's probability of a response passes its threshold (decision/learned.py), and dropped if
the speaker goes on first. `DEFER_MAX_S` bounds the wait: a question the model never confirms is answered then.
With `decides=True` the model also judges *whether* speech gets an answer: an answer the rules want is never given
without it, and when the model fires for an answer that the rules did not want (text they read as unfinished, or
garbled by noise; never a clear statement), the speech heard is answered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from listenloop.decision.base import Mode, Task
from listenloop.decision.captions import CAPTION_HOLD_MAX_S
from listenloop.decision.features import FeatureExtractor, FeatureState
from listenloop.decision.learned import CLASSES, DecisionModel
from listenloop.perception.observation import Observation

DEFER_MAX_S = 1.6  # s after the rules wanted to answer; then the answer is given even without the model. Longer
# than the longest hesitation pause the training streams hold (1.6 s), so the fallback does not answer inside one;
# 1.0 s answered inside 16.7 % of the hesitations of 45 training streams, no fallback at all 14.4 %


@dataclass
class TimingState:
    features: FeatureState
    ready: bool = False  # this chunk: the model's probability of a response passes its threshold
    kind: Task | None = None  # this chunk: the response the model would give (its likeliest kind), when ready
    armed: bool = False  # speech was heard since the last response to speech (one answer per thing said)

    def reset(self) -> None:
        self.features.reset()
        self.ready, self.kind, self.armed = False, None, False

    @property
    def fires(self) -> bool:
        """The model says an answer is due now to speech not yet answered."""
        return self.armed and self.ready and self.kind is Task.ANSWER


class LearnedTiming:
    """One instance serves every stream; the feature history lives in TimingState."""

    def __init__(self, model: DecisionModel, class_names: tuple[str, ...], defer_max_s: float = DEFER_MAX_S,
                 decides: bool = False) -> None:
        self.model = model
        self.decides = decides  # the model also judges whether speech is answered (module docstring)
        self.defer_max_s = defer_max_s  # s; inf: an answer the model never confirms is never given
        # held captions (captions.py): as judge, the model alone releases them; as clock, after defer_max_s without
        # speech or CAPTION_HOLD_MAX_S of held speech too
        self.caption_wait_s = float("inf") if decides else defer_max_s
        self.caption_hold_s = float("inf") if decides else CAPTION_HOLD_MAX_S
        self.extractor = FeatureExtractor(class_names)

    def init_state(self, mode: Mode) -> TimingState:
        return TimingState(self.extractor.init_state(mode))

    def step(self, obs: Observation, state: TimingState, mode: Mode) -> bool:
        """Read this chunk's observations (every chunk, so the model's context stays whole); whether it says now."""
        state.features.mode = mode
        x = self.extractor.step(obs, state.features)
        p = self.model.probs(x)
        state.ready = 1.0 - float(p[0]) >= float(self.model.thresholds(x))
        state.kind = CLASSES[1 + int(np.argmax(p[1:]))] if state.ready else None
        if obs.vad is not None and (obs.vad.speech or obs.vad.started_at is not None):
            state.armed = True
        return state.ready
