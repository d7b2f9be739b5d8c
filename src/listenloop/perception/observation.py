"""What perception knows after one chunk. Each perceiver fills its own part; decision policies read it all."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from listenloop.audio.chunker import Chunk
from listenloop.perception.language import SPOKEN


@dataclass(frozen=True)
class VadResult:
    probs: np.ndarray  # speech probability of every 32 ms window completed in this chunk
    speech: bool  # voice active at the end of the chunk (after hysteresis)
    started_at: float | None = None  # stream time (s) where speech started, if it started in this chunk
    ended_at: float | None = None  # stream time (s) where speech ended, if it ended in this chunk
    silence_s: float = 0.0  # seconds since voice activity last ended (0 while speaking)
    speech_s: float = 0.0  # length of the current (or just ended) run of speech, s
    first_window: int = 0  # stream index of probs[0] (window k covers samples [512 k, 512 (k + 1)))

    @property
    def max_prob(self) -> float:
        return float(self.probs.max()) if len(self.probs) else 0.0


@dataclass(frozen=True)
class Confidence:
    """How sure the recognizer was of its text, as natural-log probabilities of the tokens it chose (0: certain).

    Whisper completes a sentence cut short ("The lights flickered during the night." for "... during the"): the word
    it adds is a guess, and its probability is lower than that of a word it heard."""

    mean: float = 0.0  # per token, over the whole text
    last_word: float = 0.0  # the least likely token of the last word
    ending: float = 0.0  # closing punctuation (if any) and the end of text after it


@dataclass(frozen=True)
class FinalText:
    """Settled text of one spoken segment (Whisper base)."""

    segment: int  # segment number in the stream
    t0: float  # s
    t1: float  # s
    text: str  # empty when the segment held no words (noise, cough)
    lang: str | None  # detected language, ISO 639-1
    lang_prob: float = 0.0
    no_speech_prob: float = 0.0
    decode_ms: float = 0.0  # wall time spent on it
    confidence: Confidence = Confidence()


def spoken_final(final: Future[FinalText]) -> str:
    """The final's text if its decode is in, succeeded and heard words in a language listenloop reads (what the
    assistant reads), else ""."""
    if not final.done() or final.cancelled() or final.exception() is not None:
        return ""
    result = final.result()
    return result.text if result.text and result.lang in (None, *SPOKEN) else ""


def final_lang(final: Future[FinalText]) -> str | None:
    """The language of a final whose decode is in and succeeded, else None."""
    if not final.done() or final.cancelled() or final.exception() is not None:
        return None
    return final.result().lang


@dataclass(frozen=True)
class PartialText:
    """The fast hypothesis for the segment in progress (Whisper tiny.en; Whisper base for other languages)."""

    segment: int
    t0: float
    t1: float
    text: str  # full hypothesis of the segment so far
    stable: str  # prefix agreed on by successive hypotheses
    confidence: Confidence = Confidence()
    lang: str | None = None  # language it was decoded in (ISO 639-1): "en" by tiny.en, else by Whisper base


@dataclass(frozen=True)
class SegmentEnd:
    """A spoken segment closed in this chunk; its final text is computed off the chunk loop."""

    segment: int
    t0: float
    t1: float
    audio: np.ndarray  # the segment's samples (16 kHz float32), kept for responders (translation)
    last_partial: str  # the last tiny.en hypothesis, available at once
    final: Future[FinalText]  # resolves to the Whisper base result
    cut: bool = False  # closed at the segment length limit while speech went on (not at a pause)
    last_confidence: Confidence = Confidence()  # ... of last_partial

    def settled_text(self) -> str:
        """The final text if it is in already (the decode often finishes during the pause), else the last partial."""
        return spoken_final(self.final) or self.last_partial


@dataclass(frozen=True)
class AsrResult:
    partial: PartialText | None = None  # new hypothesis this chunk (None when unchanged or no speech)
    ended: SegmentEnd | None = None  # segment that closed in this chunk
    suppressed: str = ""  # why recognition was skipped this chunk (e.g. "no speech: music"), for tracing


@dataclass(frozen=True)
class SoundTag:
    label: str  # AudioSet display name
    index: int  # AudioSet class index (0..520)
    score: float  # 0..1


@dataclass(frozen=True)
class SoundOnset:
    label: str
    index: int
    t0: float  # s
    score: float


@dataclass(frozen=True)
class SoundOffset:
    label: str
    index: int
    t0: float  # s
    t1: float  # s
    peak: float


@dataclass(frozen=True)
class DetectedSounds:
    """The learned detector's scores of one chunk (perception/detector.py): 0.5 is each class's operating point."""

    scores: np.ndarray  # [classes] max over the patches that ended in this chunk
    patches: np.ndarray  # [n, classes] each patch's scores, in time order
    classes: tuple[str, ...]  # the learned class names, in score order


@dataclass(frozen=True)
class SoundResult:
    scores: np.ndarray  # [521] max score over the patches that ended in this chunk (zeros if none)
    top: tuple[SoundTag, ...] = ()  # classes above the reporting threshold, best first
    onsets: tuple[SoundOnset, ...] = ()  # sounds that started being present in this chunk
    offsets: tuple[SoundOffset, ...] = ()  # sounds that stopped in this chunk
    speech_score: float = 0.0  # AudioSet "Speech" score, used to gate recognition
    patches: np.ndarray | None = None  # [n, 521] the score of each patch that ended in this chunk, in time order
    detected: DetectedSounds | None = None  # the learned detector's scores, when the tagger runs one


@dataclass
class Observation:
    """Everything perceived about one chunk. Perceivers fill their field in order: vad, sounds, asr."""

    chunk: Chunk
    vad: VadResult | None = None
    sounds: SoundResult | None = None
    asr: AsrResult | None = None
    extra: dict[str, object] = field(default_factory=dict)
