"""The learned decision model as the conversation's clock: it says *when* a spoken question is answered.

The conversation policy (decision/conversation.py) still decides *what* happens: instructions, answers, translation,
counting, and sounds by the user's policy file. With a `LearnedTiming`, an answer the rules want is given in the
first chunk where the model's probability of a response passes its threshold (decision/learned.py), and dropped if
the speaker goes on first. `DEFER_MAX_S` bounds the wait: a question the model never confirms is answered then.
"""

from __future__ import annotations

from dataclasses import dataclass

from listenloop.decision.base import Mode
from listenloop.decision.features import FeatureExtractor, FeatureState
from listenloop.decision.learned import DecisionModel
from listenloop.perception.observation import Observation

DEFER_MAX_S = 1.6  # s after the rules wanted to answer; then the answer is given even without the model. Longer
# than the longest hesitation pause the training streams hold (1.6 s), so the fallback does not answer inside one;
# 1.0 s answered inside 16.7 % of the hesitations of 45 training streams, no fallback at all 14.4 %


@dataclass
class TimingState:
    features: FeatureState
    ready: bool = False  # this chunk: the model's probability of a response passes its threshold

    def reset(self) -> None:
        self.features.reset()
        self.ready = False


class LearnedTiming:
    """One instance serves every stream; the feature history lives in TimingState."""

    def __init__(self, model: DecisionModel, class_names: tuple[str, ...], defer_max_s: float = DEFER_MAX_S) -> None:
        self.model = model
        self.defer_max_s = defer_max_s  # s; inf: an answer the model never confirms is never given
        self.extractor = FeatureExtractor(class_names)

    def init_state(self, mode: Mode) -> TimingState:
        return TimingState(self.extractor.init_state(mode))

    def step(self, obs: Observation, state: TimingState, mode: Mode) -> bool:
        """Read this chunk's observations (every chunk, so the model's context stays whole); whether it says now."""
        state.features.mode = mode
        x = self.extractor.step(obs, state.features)
        p_respond = 1.0 - float(self.model.probs(x)[0])
        state.ready = p_respond >= float(self.model.thresholds(x))
        return state.ready
