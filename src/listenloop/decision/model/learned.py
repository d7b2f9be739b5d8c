"""The learned decision: small numpy MLPs over the chunk features (five, their probabilities averaged), trained by
`listenloop train decision`.

Weights live in an .npz shipped in the package (decision/weights/decision.npz). The model gives, every chunk, the
probability of each response kind; the policy responds when the probability of any response passes the tuned
threshold and something new (speech or a sound) happened since its last response. Where the text heard so far ends
on an open word or a filler and not on "?", or the segment heard has no text (a sentence that may go on after the
pause), a second, stricter threshold applies.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from listenloop.decision.base import Decision
from listenloop.decision.model.features import FEATURE_NAMES, N_FEATURES, FeatureExtractor, FeatureState
from listenloop.perception.observation import Observation, SegmentEnd
from listenloop.vocabulary import Emotion, Mode, Task

WEIGHTS_PATH = Path(__file__).parent / "weights" / "decision.npz"  # the shipped model
CLASSES = (None, Task.ANSWER, Task.TRANSCRIBE, Task.ALERT, Task.ASK, Task.NOTIFY)  # model outputs; None: silent
EMOTIONS = {Task.ALERT: Emotion.URGENT, Task.ASK: Emotion.CONCERNED}
MODEL_FORMAT = 2  # bumped when the .npz layout changes (2: several networks stacked, their probabilities averaged)
READABLE_FORMATS = (1, 2)  # format 1 holds one network
_REQUIRED = ("format", "feature_names", "mean", "std", "w1", "b1", "w2", "b2", "threshold")
# Where the text seen shows no finished sentence, a stricter threshold applies (same F1, fewer interruptions out of
# fold; docs/benchmarks/decisions.md):
OPEN_TEXT_FEATURES = ("txt_open_end@0", "txt_filler_end@0")  # the current segment's text ends where no sentence can
CLOSED_TEXT_FEATURE = "txt_qmark@0"  # ... unless it ends on "?": "What time is it?" ends on an open word ("it")
NO_TEXT_FEATURE = "txt_none@0"  # the segment heard has no text at all (a piece too short for a partial)
_OPEN_TEXT_INDEX = np.array([FEATURE_NAMES.index(n) for n in OPEN_TEXT_FEATURES])
_CLOSED_TEXT_INDEX = FEATURE_NAMES.index(CLOSED_TEXT_FEATURE)
_NO_TEXT_INDEX = FEATURE_NAMES.index(NO_TEXT_FEATURE)


class DecisionModelError(RuntimeError):
    """The decision-model file is missing, corrupt or does not match this version's features."""


@dataclass(frozen=True)
class DecisionModel:
    mean: np.ndarray  # [F] feature standardization
    std: np.ndarray  # [F]
    w1: np.ndarray  # [K, F, H]: K networks (members), averaged; one network may be given as [F, H] ...
    b1: np.ndarray  # [K, H] ... [H]
    w2: np.ndarray  # [K, H, C] ... [H, C]
    b2: np.ndarray  # [K, C] ... [C]
    threshold: float  # respond when P(not silent) >= this
    meta: dict[str, str] = field(default_factory=dict)  # seed, data, metrics of the training run
    open_threshold: float | None = None  # ... or this where the text ends open or is missing; None: threshold

    def __post_init__(self) -> None:
        if self.w1.ndim == 2:  # one network: a stack of one
            for name in ("w1", "b1", "w2", "b2"):
                object.__setattr__(self, name, getattr(self, name)[None])

    @property
    def members(self) -> int:
        return int(self.w1.shape[0])

    def thresholds(self, x: np.ndarray) -> np.ndarray:
        """[..., F] features -> [...] the P(not silent) each chunk needs for a response."""
        return chunk_thresholds(x, self.threshold, self.open_threshold)

    def probs(self, x: np.ndarray) -> np.ndarray:
        """[..., F] features -> [..., C] class probabilities (the members' mean)."""
        h = np.maximum(np.einsum("...f,kfh->...kh", (x - self.mean) / self.std, self.w1) + self.b1, 0.0)
        logits = np.einsum("...kh,khc->...kc", h, self.w2) + self.b2
        logits = logits - logits.max(axis=-1, keepdims=True)
        e = np.exp(logits)
        return (e / e.sum(axis=-1, keepdims=True)).mean(axis=-2)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path, format=np.int64(MODEL_FORMAT), feature_names=np.array(FEATURE_NAMES), mean=self.mean,
            std=self.std, w1=self.w1, b1=self.b1, w2=self.w2, b2=self.b2, threshold=np.float64(self.threshold),
            open_threshold=np.float64(np.nan if self.open_threshold is None else self.open_threshold),
            meta_keys=np.array(list(self.meta)), meta_values=np.array([str(v) for v in self.meta.values()]),
        )

    @classmethod
    def load(cls, path: str | Path = WEIGHTS_PATH) -> DecisionModel:
        path = Path(path)
        if not path.is_file():
            raise DecisionModelError(f"decision model not found: {path} (train one: listenloop train decision)")
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in _REQUIRED if k not in z.files]
                if missing:
                    raise DecisionModelError(f"{path}: not a decision model (missing {', '.join(missing)})")
                if int(z["format"]) not in READABLE_FORMATS:
                    raise DecisionModelError(f"{path}: model format {int(z['format'])}, expected {MODEL_FORMAT}")
                if tuple(str(n) for n in z["feature_names"]) != FEATURE_NAMES:
                    raise DecisionModelError(f"{path}: trained on other features; retrain: listenloop train decision")
                arrays = {k: np.asarray(z[k], np.float32) for k in ("mean", "std", "w1", "b1", "w2", "b2")}
                meta = dict(zip((str(k) for k in z.get("meta_keys", [])),
                                (str(v) for v in z.get("meta_values", [])), strict=False))
                threshold = float(z["threshold"])
                open_threshold = float(z["open_threshold"]) if "open_threshold" in z.files else np.nan
        except DecisionModelError:
            raise
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:  # a damaged .npz
            raise DecisionModelError(f"{path}: corrupt decision model ({type(e).__name__}: {e})") from None
        model = cls(threshold=threshold, meta=meta, **arrays,
                    open_threshold=None if np.isnan(open_threshold) else open_threshold)
        k, f, h = model.w1.shape if model.w1.ndim == 3 else (0, 0, 0)
        shapes_ok = (model.mean.shape == (N_FEATURES,) and f == N_FEATURES and model.b1.shape == (k, h)
                     and model.w2.shape == (k, h, len(CLASSES)) and model.b2.shape == (k, len(CLASSES)))
        if not shapes_ok:
            raise DecisionModelError(
                f"{path}: weight shapes do not match {N_FEATURES} features, {len(CLASSES)} classes"
            )
        return model


def chunk_thresholds(x: np.ndarray, threshold: float, open_threshold: float | None) -> np.ndarray:
    """The threshold of every chunk ([..., F] -> [...]): open_threshold where the text seen ends open (or the segment
    has none), else threshold."""
    if open_threshold is None:
        return np.full(x.shape[:-1], threshold, np.float64)
    is_open = (x[..., _OPEN_TEXT_INDEX] > 0).any(axis=-1) & (x[..., _CLOSED_TEXT_INDEX] <= 0)
    is_open |= x[..., _NO_TEXT_INDEX] > 0
    return np.where(is_open, open_threshold, threshold)


@dataclass
class LearnedState:
    features: FeatureState
    armed: bool = False  # something new was heard since the last response
    last_segment: SegmentEnd | None = None  # the last closed spoken segment (payload of transcription responses)
    last_sound: str = ""  # the last sound heard starting (payload of sound responses)

    def reset(self) -> None:
        self.features.reset()
        self.armed, self.last_segment, self.last_sound = False, None, ""


class LearnedPolicy:
    """DecisionPolicy backed by DecisionModel; one instance serves every stream."""

    def __init__(self, mode: Mode = Mode.ASSISTANT, model: DecisionModel | None = None,
                 class_names: tuple[str, ...] | None = None) -> None:
        self.mode = mode
        self.model = model or DecisionModel.load()
        if class_names is None:
            from listenloop.perception.sounds import load_class_names

            class_names = load_class_names()
        self.extractor = FeatureExtractor(class_names)

    def init_state(self) -> LearnedState:
        return LearnedState(self.extractor.init_state(self.mode))

    @staticmethod
    def _task_for(task: Task, mode: Mode) -> Task:
        """Translation is transcription's timing with another responder: the model knows transcription."""
        return Task.TRANSLATE if mode is Mode.TRANSLATE and task is Task.TRANSCRIBE else task

    def decide(self, obs: Observation, state: LearnedState) -> Decision:
        x = self.extractor.step(obs, state.features)
        p = self.model.probs(x)
        self._remember(obs, state)
        p_respond = 1.0 - float(p[0])
        if not state.armed or p_respond < float(self.model.thresholds(x)):
            return Decision.silent()
        task = self._task_for(CLASSES[1 + int(np.argmax(p[1:]))], state.features.mode)
        if state.features.mode is Mode.QUIET and task is not Task.ALERT:
            return Decision.silent("quiet mode")
        state.armed = False
        payload: dict[str, Any] = {"p": round(p_respond, 3)}
        if state.last_segment is not None:
            payload["segment"] = state.last_segment
        if task is not None and task.sound and state.last_sound:
            payload["label"] = state.last_sound
        return Decision.respond(task, f"learned p={p_respond:.2f}", EMOTIONS.get(task, Emotion.NORMAL), **payload)

    @staticmethod
    def _remember(obs: Observation, state: LearnedState) -> None:
        if obs.vad is not None and (obs.vad.speech or obs.vad.started_at is not None):
            state.armed = True
        if obs.sounds is not None and obs.sounds.onsets:
            state.armed = True
            state.last_sound = obs.sounds.onsets[0].label
        if obs.asr is not None and obs.asr.ended is not None:
            state.last_segment = obs.asr.ended
