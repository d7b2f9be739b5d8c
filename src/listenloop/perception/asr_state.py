"""The recognizer's per-stream state (perception/asr.py) and the checks that read it alone: whether a segment's voice is
clear enough to recognize, whether a pause or a tail was heard."""

from __future__ import annotations

from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK, VAD_WINDOW_SAMPLES
from listenloop.audio.levels import frame_rms, narrowband
from listenloop.perception.language import ENGLISH, Script
from listenloop.perception.observation import Confidence, FinalText, SegmentEnd, SoundResult, final_lang
from listenloop.perception.vad import SPEECH_OFF_PROB
from listenloop.perception.whisper import Hypothesis

_SR = SAMPLE_RATE
SPECULATE_SILENCE_S = 0.1  # s of silence after which the final decode starts speculatively (on the tail heard so far)
TAIL_QUIET_DB = 35.0  # dB under the segment's speech level: a tail the speculative decode missed that is louder than
# this has sound in it ("France" lost its "s" to "friends"), and the final is decoded again on the whole tail
MIN_VOICED_S = 0.2  # s of voiced windows a segment needs to be recognized at all (clicks, short coughs)
PREROLL_S = 0.5  # s of audio kept before the VAD onset, so the first word is not clipped (0.3 s lost jfk's "ask")
WEAK_JOIN_S = 0.5  # s; an unclear piece followed by speech within this opens that speech (a weak first word)
CONFIDENT_PROB = 0.65  # VAD probability that counts as clearly voiced: real speech (184 asterisk prompts, 8 kHz)
MIN_CONFIDENT_WINDOWS = 3  # had >= 3 windows above 0.74; a cough that base heard as "Who?" peaked at 0.59
SOUND_SPEECH_MIN = 0.2  # the tagger's AudioSet "Speech" score a segment must reach once (when the tagger is on)
# Telephone-band speech (audio/levels.narrowband) reads weak to both: silero rarely passes CONFIDENT_PROB on piper's
# voice through a call, and the tagger's speech score can stay low where silero is sure. There one gate is lifted when
# the other source vouches for speech. Built streams: 87 of 246 segments of the user's telephone speech were gated
# (58 voice never clear, 27 tagger, 2 too short), 28 after; wideband gating is unchanged (it keeps far speech and
# coughs out). Far speech on the call (television, crosstalk) opens too: 11 of its 28 segments
NARROWBAND_SPEECH_MIN = 0.5  # the tagger's "Speech" score that vouches for narrowband voice silero never found clear
NARROWBAND_CONFIDENT_WINDOWS = 20  # clear silero windows (0.64 s) that vouch for narrowband voice the tagger missed


@dataclass
class AsrState:
    """One stream's recognition state. `reset()` forgets the stream."""

    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # recent stream samples
    audio_start: int = 0  # stream sample index of audio[0]
    windows: int = 0  # VAD windows seen (window k covers samples [512 k, 512 (k + 1)))
    segments: int = 0  # segments closed so far (the next segment's number)
    last_end: int = 0  # stream sample where the last closed segment ended (a pre-roll never reaches back past it)
    open: bool = False  # a segment is in progress
    seg_start: int = 0  # stream sample where the open segment starts
    voiced_end: int = 0  # stream sample just after the last voiced window of the open segment
    voiced_windows: int = 0  # voiced windows in the open segment
    confident_windows: int = 0  # windows of the open segment at or above CONFIDENT_PROB
    probs: list[float] = field(default_factory=list)  # VAD probabilities of the open segment's windows
    probs_first: int = 0  # window index of probs[0]
    hypothesis: str = ""  # the last tiny.en hypothesis
    confidence: Confidence = Confidence()  # ... and how sure tiny.en was of it
    partial_end: int = 0  # stream sample up to which the last tiny.en decode heard the open segment
    stable: str = ""  # agreed prefix of the last two hypotheses
    speech_score: float = 0.0  # max tagger speech score seen in the open segment
    tagger_seen: bool = False  # the tagger scored at least one patch in the open segment
    speculative: Future[FinalText] | None = None  # a final decode started during the current silence
    speculative_end: int = 0  # the segment end (sample) that decode is for
    speculative_heard: int = 0  # stream sample up to which it heard the segment (short of its end: tail not yet in)
    heard: int = 0  # stream samples appended so far (by `step` or ahead of the chunk by `listen`)
    early_end: SegmentEnd | None = None  # a segment `listen` closed, reported by the next `step`
    last_final: Future[FinalText] | None = None  # the previous segment's final (context for the next one)
    weak_start: int | None = None  # start (sample) of the last segment gated for weak voice, kept to open the next
    weak_end: int = 0  # where that segment ended
    ahead: Future[Hypothesis] | None = None  # the partial `listen` started for the chunk being heard
    ahead_end: int = 0  # stream sample up to which it hears the segment
    late: Future[Hypothesis] | None = None  # the pause partial of speech that is not English (Whisper base, slow):
    # decoded on the partial worker and read at the next chunk, so the chunk loop never waits for it
    late_end: int = 0  # stream sample up to which it hears the segment
    language: str | None = None  # the session's pinned language (ISO 639-1); None: identified per segment
    script: Script = Script.SIMPLIFIED  # how Chinese text is written (finals and partials)
    seg_lang: str | None = None  # the open segment's language, once identified on its first LANG_DETECT_S
    identifying: Future[tuple[str, float]] | None = None  # that identification, running on a worker
    identified_by: int = 0  # stream sample from which its result is used (waited for if late): one chunk after it
    last_lang: str | None = None  # the language of the last segment identified (partials start in it)
    partial_lang: str = ENGLISH  # the language the open segment's last partial was decoded in
    pauses_only: bool = False  # partials at pauses only, none mid-speech: set by the runtime while the machine is
    # behind real time (runtime/load.py); the decision still gets the words before every pause

    def reset(self) -> None:
        for future in (self.speculative, self.ahead, self.late, self.identifying):
            if future is not None:
                future.cancel()
        fresh = AsrState(language=self.language, script=self.script, pauses_only=self.pauses_only)  # the
        # session's options and the runtime's load setting stay
        self.__dict__.update(fresh.__dict__)

    def hear(self, samples: np.ndarray, now: int) -> None:
        """Append samples ending at stream sample `now`; keep the open segment's audio, or only the pre-roll plus one
        chunk when no segment is open."""
        if len(samples):
            self.audio = np.concatenate([self.audio, np.asarray(samples, np.float32)])
        self.heard = now
        keep_from = self.seg_start if self.open else now - int(PREROLL_S * _SR) - SAMPLES_PER_CHUNK
        if self.weak_start is not None and now - self.weak_end > WEAK_JOIN_S * _SR + SAMPLES_PER_CHUNK:
            self.weak_start = None  # no speech followed it closely enough
        if not self.open and self.weak_start is not None:
            keep_from = min(keep_from, self.weak_start)
        drop = max(0, keep_from - self.audio_start)
        if drop:
            self.audio = self.audio[drop:]
            self.audio_start += drop
        self.audio_start = now - len(self.audio)

    def open_segment(self, start: int, first_window: int) -> None:
        """A new segment from stream sample `start` (its VAD windows from `first_window`)."""
        self.open, self.seg_start, self.voiced_end, self.voiced_windows = True, start, start, 0
        self.confident_windows = 0
        self.probs, self.probs_first = [], first_window
        self.hypothesis = self.stable = ""
        self.confidence = Confidence()
        self.partial_end = 0
        self.speech_score, self.tagger_seen = 0.0, False
        self.speculative, self.speculative_end = None, 0
        self.drop_late()
        self.seg_lang, self.partial_lang, self.identifying = None, ENGLISH, None
        known = final_lang(self.last_final) if self.last_final is not None else None
        self.last_lang = known or self.last_lang  # the last segment's final, when it is in

    def track(self, probs: np.ndarray, first_window: int, sounds: SoundResult | None) -> None:
        """The VAD windows of the open segment (and the tagger's speech score) since the last call."""
        self.probs.extend(float(p) for p in probs)
        voiced = np.flatnonzero(probs >= SPEECH_OFF_PROB)
        if len(voiced):
            self.voiced_windows += len(voiced)
            self.confident_windows += int(np.count_nonzero(probs >= CONFIDENT_PROB))
            self.voiced_end = max(self.voiced_end, (first_window + int(voiced[-1]) + 1) * VAD_WINDOW_SAMPLES)
        if sounds is not None and float(np.max(sounds.scores, initial=0.0)) > 0.0:
            self.tagger_seen = True
            self.speech_score = max(self.speech_score, sounds.speech_score)

    def drop_ahead(self) -> None:
        """Forget the partial started ahead."""
        if self.ahead is not None:
            self.ahead.cancel()  # a running decode finishes on its worker; its result is never read
            self.ahead = None

    def drop_late(self) -> None:
        """Forget the pause partial still to be read (its segment closed: the final says more)."""
        if self.late is not None:
            self.late.cancel()
            self.late = None

    def seconds(self, sample: int) -> float:
        return sample / _SR

    def clip(self, start: int, end: int) -> np.ndarray:
        return self.audio[max(0, start - self.audio_start) : max(0, end - self.audio_start)].copy()


def gate(state: AsrState) -> str:
    """Why the open segment should get no text at all ("" when it may)."""
    return weak_voice(state) or tagger_gate(state)

def weak_voice(state: AsrState) -> str:
    """Why the open segment's voice is too little or too unclear to recognize on its own ("" when it is not)."""
    if state.voiced_windows * VAD_WINDOW_SAMPLES < MIN_VOICED_S * _SR:
        return f"too little voice ({state.voiced_windows * VAD_WINDOW_SAMPLES / _SR:.2f} s)"
    if state.confident_windows < MIN_CONFIDENT_WINDOWS and not (
        state.speech_score >= NARROWBAND_SPEECH_MIN and narrowband_voice(state)
    ):
        return f"voice never clear ({state.confident_windows} windows >= {CONFIDENT_PROB})"
    return ""

def tagger_gate(state: AsrState) -> str:
    if state.tagger_seen and state.speech_score < SOUND_SPEECH_MIN and not (
        state.confident_windows >= NARROWBAND_CONFIDENT_WINDOWS and narrowband_voice(state)
    ):
        return f"sound tagger hears no speech (score {state.speech_score:.2f})"
    return ""


def identified(future: Future[tuple[str, float]]) -> str | None:
    """The language an identification found, waiting for it; None when it failed or was cancelled."""
    try:
        return future.result()[0]
    except (CancelledError, RuntimeError, ValueError):
        return None


def heard_pause(state: AsrState, end: int) -> bool:
    """Whether a decode that heard the open segment up to `end` heard SPECULATE_SILENCE_S of its pause."""
    return end - state.voiced_end >= SPECULATE_SILENCE_S * _SR


def tail_quiet(state: AsrState, end: int) -> bool:
    """Whether the part of the segment a speculative decode did not hear (up to `end`) holds no sound: no 10 ms frame
    within TAIL_QUIET_DB of the segment's speech level (its 95th-percentile frame)."""
    missing = frame_rms(state.clip(state.speculative_heard, end))
    level = frame_rms(state.clip(state.seg_start, state.speculative_heard))
    if not len(missing) or not len(level):
        return True
    floor = np.percentile(level, 95) * 10 ** (-TAIL_QUIET_DB / 20)
    return bool(np.max(missing) < floor)


def padded(audio: np.ndarray, pad_s: float) -> np.ndarray:
    return np.concatenate([np.asarray(audio, np.float32), np.zeros(int(pad_s * _SR), np.float32)])


def narrowband_voice(state: AsrState) -> bool:
    """The open segment's voice is telephone-band (computed only where a gate would otherwise close it)."""
    return narrowband(state.clip(state.seg_start, state.voiced_end))
