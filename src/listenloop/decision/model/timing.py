"""The learned decision model inside the conversation: as its clock (*when*), or as its judge (*whether* and when).

The conversation policy (decision/conversation.py) still decides *what* happens: instructions, answers, translation,
counting, and sounds by the user's policy file. With a `LearnedTiming`, an answer the rules want is given in the
first chunk where the model's probability of a response passes its threshold (decision/learned.py), and dropped if
the speaker goes on first. `DEFER_MAX_S` bounds the wait: a question the model never confirms is answered then.
With `decides=True` the model also judges *whether* speech gets an answer: a response to speech that the rules want
(an answer, a caption) goes once the model's probability of a response reaches `CONFIRM_P`, or, if it reached
`DOUBT_P` since the voice stopped, once the pause is `PATIENCE_S` long; never after a longer timeout. The rules
propose (reading each segment's final text when it is in), the model disposes.
"""

from __future__ import annotations

from dataclasses import dataclass

from listenloop.audio.constants import CHUNK_SECONDS
from listenloop.decision.captions import CAPTION_HOLD_MAX_S
from listenloop.decision.model.features import FeatureExtractor, FeatureState
from listenloop.decision.model.learned import DecisionModel
from listenloop.perception.observation import Observation
from listenloop.vocabulary import Mode

DEFER_MAX_S = 1.6  # s after the rules wanted to answer, then answered without the model: over the longest pause
CONFIRM_P = 0.5  # as judge: P(response) at which a response to speech the rules want goes at once
CAPTION_CONFIRM_P = 0.6  # ... for a caption: one inside a sentence splits it (the model's own threshold)
PATIENCE_S = 0.8  # ... or, once the pause reaches this long (s), one whose P reached DOUBT_P since the voice stopped:
DOUBT_P = 0.4  # a hesitation's pause is mostly filled sooner (a filler, the next piece), a question's is not
JOINED_DOUBT_P = 0.1  # ... the same for a question ending a sentence broken by a pause (its last piece is unsure)


@dataclass
class TimingState:
    features: FeatureState
    ready: bool = False  # this chunk: the model's probability of a response passes its threshold
    confirms: bool = False  # this chunk: a response the rules want may go (it passes LearnedTiming.confirm, lower or
    # equal to the model's threshold, or the pause reached the patience after a doubtful P)
    caption_confirms: bool = False  # ... a caption may go (LearnedTiming.caption_confirm)
    joined_confirms: bool = False  # ... an answer to a question that ends a sentence broken by a pause may go
    armed: bool = False  # speech was heard since the last response to speech (one answer per thing said)
    peak: float = 0.0  # highest P(response) since voice was last heard

    def reset(self) -> None:
        self.features.reset()
        self.ready, self.confirms, self.caption_confirms, self.armed, self.peak = False, False, False, False, 0.0
        self.joined_confirms = False


class LearnedTiming:
    """One instance serves every stream; the feature history lives in TimingState."""

    def __init__(self, model: DecisionModel, class_names: tuple[str, ...], defer_max_s: float = DEFER_MAX_S,
                 decides: bool = False, confirm: float | None = None, patience_s: float | None = None,
                 doubt_p: float | None = None, caption_confirm: float | None = None) -> None:
        self.model = model
        self.decides = decides  # the model also judges whether speech is answered (module docstring)
        # P(response) at which a response the rules want may go (never above the model's threshold); as clock, the
        # model's threshold unless given
        self.confirm = CONFIRM_P if confirm is None and decides else confirm
        # ... for captions: CAPTION_CONFIRM_P as judge, unless a bar is given (`confirm` given alone sets both)
        self.caption_confirm = caption_confirm if caption_confirm is not None \
            else confirm if confirm is not None or not decides else CAPTION_CONFIRM_P
        self.defer_max_s = defer_max_s  # s; inf: an answer the model never confirms is never given
        # as judge: a response the model half-confirmed (P reached doubt_p since the voice stopped) also goes in the
        # chunk where the pause reaches patience_s (inf: never); as clock, never
        self.patience_s = (PATIENCE_S if decides else float("inf")) if patience_s is None else patience_s
        self.doubt_p = DOUBT_P if doubt_p is None else doubt_p
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
        p_respond, threshold = 1.0 - float(p[0]), float(self.model.thresholds(x))
        state.ready = p_respond >= threshold
        state.confirms = p_respond >= _bar(self.confirm, threshold)
        state.caption_confirms = p_respond >= _bar(self.caption_confirm, threshold)
        voiced = obs.vad is not None and (obs.vad.speech or obs.vad.started_at is not None)
        state.peak = 0.0 if voiced else max(state.peak, p_respond)
        patient = not voiced and obs.vad is not None \
            and self.patience_s - 1e-6 <= obs.vad.silence_s < self.patience_s + CHUNK_SECONDS
        if voiced:
            state.armed = True
        elif patient and state.peak >= self.doubt_p:
            state.confirms = state.caption_confirms = True
        state.joined_confirms = state.confirms or patient and state.peak >= JOINED_DOUBT_P
        return state.ready


def _bar(confirm: float | None, threshold: float) -> float:
    """The P(response) a response needs: the given bar, never above the model's own threshold (None: the threshold)."""
    return threshold if confirm is None else min(confirm, threshold)
