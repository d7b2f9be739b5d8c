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
from listenloop.decision.base import Mode
from listenloop.decision.captions import CAPTION_HOLD_MAX_S
from listenloop.decision.features import FeatureExtractor, FeatureState
from listenloop.decision.learned import DecisionModel
from listenloop.perception.observation import Observation

DEFER_MAX_S = 1.6  # s after the rules wanted to answer; then the answer is given even without the model. Longer
# than the longest hesitation pause the training streams hold (1.6 s), so the fallback does not answer inside one;
# 1.0 s answered inside 16.7 % of the hesitations of 45 training streams, no fallback at all 14.4 %
CONFIRM_P = 0.5  # as judge: the P(response) at which a response to speech that the rules want goes at once (at most
# the model's own threshold, which a response needs where the model decides alone) ... For the model retrained on the
# relabelled builds (session 13), on a fresh validation build (b9/val3, 133 unfinished sentences): 0.2 interrupted
# 13 (9.8 %) at F1 0.689, 0.4 9 (6.8 %) at 0.678, 0.45 to 0.8 (capped by the threshold 0.5) 7 (5.3 %) at 0.680,
# delay p50 0.39 s; docs/benchmarks/decisions.md, session 14. The model trained on the whole due window (session
# 17, threshold 0.6): 0.5 answered more (F1 0.704 on b9/val3, 9 of 133 interrupted) than 0.6 (0.698, 8 of 133)
CAPTION_CONFIRM_P = 0.6  # ... for a caption (transcription mode): a caption inside a sentence splits it, and the
# rules propose one at every segment's close, so the model carries more of the choice. Validation builds together
# (b9/val2 + the captions-only b9/valc, 325 unfinished sentences): 0.3 interrupted 25 (7.7 %), 0.4 17, 0.45 14 (4.3 %),
# 0.5 13 with delay p50 0.41 s on b9/val2 (0.40 at 0.45); docs/benchmarks/decisions.md, session 13. The model of
# session 17 (threshold 0.6), captions-only b9/valc: 0.5 interrupted 9 of 83 at F1 0.779, 0.6 8 at 0.774, delay
# p50 0.43 and 0.46 s. On the first build with the seeded piper voice (b10/val, 180 streams, 403 unfinished
# sentences; session 21): 0.5 -> 0.6 interrupted 26 -> 23 at F1 0.754 either way (its transcription streams: 9 -> 6
# of 85, caption delay p50 0.447 -> 0.470 s); b9/val3 + b9/val4 as rendered in session 21: 22 -> 20 of 262, F1 0.5
# and 1.0 points lower. 0.6 is the shipped model's own threshold where the text does not end open (there, 0.97)
PATIENCE_S = 0.8  # ... or, once the pause reaches this long (s), one whose P reached DOUBT_P since the voice stopped:
DOUBT_P = 0.4  # a hesitation's pause is mostly filled sooner (a filler, the next piece), a question's is not.
# Chosen on the validation build (120 streams, 242 unfinished sentences), docs/benchmarks/decisions.md: 0.6 / 0.8 s /
# 0.4 for session 8's model (F1 0.685, interruptions 8.3 %, delay p50 0.41 s); the bar 0.45 for five members trained
# harder against interruptions (0.667, 5.0 %, 0.40 s, session 10); the bar 0.3 for the model that also reads the
# recognizer's confidence, trained harder still (0.668, 4.1 %, 0.38 s, session 11); 0.2 for answers, 0.3 for captions
# once a partial that may go on waits for the final text (sentence.may_go_on): 0.690, 4.1 %, 0.38 s on this session's
# machine, where one bar of 0.3 measured 0.672, 4.5 %, 0.38 s (session 12); captions' bar 0.45 (session 13). With
# the answers' bar under DOUBT_P the patience rule adds nothing to answers; a lower DOUBT_P (0.2, 0.25) only added
# interruptions (6.2 %). Over the captions' bar it releases a caption whose P reached DOUBT_P once the pause is 0.8 s:
# without it (DOUBT_P 0.45) captions-only F1 fell 0.743 -> 0.722. It stays a knob (`bench decisions --patience
# --doubt`).
JOINED_DOUBT_P = 0.1  # ... and an answer to a question that ends a sentence broken by a pause ("How do you say thank
# you in... Japanese?") goes at the same pause once its P reached this. The model is unsure of a last piece ("Japanese?"
# alone), and with DOUBT_P it answered 2 of the 59 broken questions of b9/val4. Chosen on b9/val4 (129 unfinished
# sentences), learned decides: 0.05 F1 0.768, 7 interrupted, delay p50 0.43 s; 0.1 0.755, 6, 0.42 s; 0.2 0.741, 6,
# 0.41 s; none 0.729, 5, 0.40 s (pause 0.7 s or 1.0 s instead of PATIENCE_S: no better); docs/benchmarks/decisions.md,
# session 20


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
