"""Whose voice, and is it really talking: the user near the microphone against background talk, and barge-in.

Background talk (a television, people across the room) is quieter than the user: speech whose level lies
BACKGROUND_DB under the loudest recent speaker, or under an absolute floor before anyone has been heard, is not
addressed to the assistant and does not stop its answers. Barge-in needs real speech besides: voiced long enough and,
when a recognizer runs, words other than a backchannel ("uh-huh", "okay") - a cough or a murmur never cuts an answer.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field

import numpy as np

from listenloop.audio.constants import VAD_WINDOW_SAMPLES, VAD_WINDOW_SECONDS
from listenloop.decision.text.lexicon import ENGLISH

SPEECH_PROB = 0.35  # a VAD window at or above this is voiced (silero's off threshold, as the VAD uses)
LEVEL_PERCENTILE = 90.0  # a chunk's speech level: this percentile of its 32 ms frame powers (the peaks of speech;
#                          pauses inside the chunk do not lower it, so the level does not depend on the timing)
BACKGROUND_DB = 10.0  # dB under the reference at which speech is background talk
REFERENCE_FLOOR_DBFS = -22.0  # the reference never lies below this: with nobody heard yet, speech peaking under
#                               -32 dBFS is background (the dev recordings: median chunk levels -28 to -15 dBFS,
#                               silences included; synthesized speech at a near talker's -22 dBFS RMS: -21 to -19)
REFERENCE_DECAY_DB_PER_S = 0.05  # the loudest-speaker reference decays (a user who moves away is followed)
LEVELS_KEEP = 16  # closed segments whose level is remembered (a segment is judged again on its final text)
RUN_GAP_S = 0.5  # s of pause that ends a run of speech (an "uh-huh ... uh-huh" is one run)
BARGE_IN_MIN_S = 0.5  # s of voiced speech before it can stop a response (a cough or a click is shorter)
BARGE_IN_NO_TEXT_S = 1.0  # the same without a recognizer, which cannot tell words from a murmur
BACKCHANNEL = ENGLISH.backchannels  # listener feedback words: they do not interrupt (decision/lexicons/en.toml)


def chunk_level(samples: np.ndarray) -> float:
    """Speech level of one chunk, dBFS: a high percentile of its 32 ms frame powers."""
    n = len(samples) // VAD_WINDOW_SAMPLES
    if n == 0:
        return -120.0
    frames = samples[: n * VAD_WINDOW_SAMPLES].reshape(n, VAD_WINDOW_SAMPLES).astype(np.float64)
    power = np.percentile(np.mean(np.square(frames), axis=1), LEVEL_PERCENTILE)
    return float(10.0 * np.log10(max(power, 1e-12)))


@dataclass
class VoiceState:
    """Per-stream voice tracking (lives in the conversation policy's state)."""

    windows: int = 0  # VAD windows seen
    last_voiced_t: float = 0.0  # s, end of the last voiced VAD window
    segment_db: list[float] = field(default_factory=list)  # levels of the voiced chunks of the current segment
    levels: collections.OrderedDict = field(default_factory=collections.OrderedDict)  # closed segment -> dBFS
    reference_db: float = REFERENCE_FLOOR_DBFS  # loudest recent speaker, dBFS (before decay)
    reference_t: float = 0.0  # s, when it was set
    run_voiced_s: float = 0.0  # voiced seconds of the current run of speech
    run_db: list[float] = field(default_factory=list)  # levels of its voiced chunks
    run_fired: bool = False  # this run has already barged in

    def reset(self) -> None:
        self.segment_db.clear()
        self.levels.clear()
        self.run_db.clear()
        self.run_voiced_s, self.run_fired = 0.0, False


def track(state: VoiceState, samples: np.ndarray, probs: np.ndarray, t1: float) -> float:
    """One chunk's VAD windows and samples in; seconds of pause at the chunk's end out (0 while voiced)."""
    voiced = np.flatnonzero(probs >= SPEECH_PROB)
    if len(voiced):
        start = (state.windows + int(voiced[0])) * VAD_WINDOW_SECONDS
        end = (state.windows + int(voiced[-1]) + 1) * VAD_WINDOW_SECONDS
        if start - state.last_voiced_t >= RUN_GAP_S:
            state.run_voiced_s, state.run_fired = 0.0, False
            state.run_db.clear()
        state.last_voiced_t = end
        level = chunk_level(samples)
        state.segment_db.append(level)
        state.run_db.append(level)
        state.run_voiced_s += len(voiced) * VAD_WINDOW_SECONDS
    state.windows += len(probs)
    return max(0.0, t1 - state.last_voiced_t) if state.segment_db else 0.0


def reference(state: VoiceState, t: float) -> float:
    """The loudest recent speaker's level at time t, dBFS (never under the floor)."""
    decayed = state.reference_db - REFERENCE_DECAY_DB_PER_S * max(0.0, t - state.reference_t)
    return max(REFERENCE_FLOOR_DBFS, decayed)


def segment_level(state: VoiceState, segment: int | None) -> float | None:
    """Level of a closed segment, or of the speech in progress when it is not closed yet; None if unknown."""
    if segment is not None and segment in state.levels:
        return state.levels[segment]
    return float(np.median(state.segment_db)) if state.segment_db else None


def is_background(level: float | None, state: VoiceState, t: float) -> bool:
    return level is not None and level < reference(state, t) - BACKGROUND_DB


def close_segment(state: VoiceState, segment: int, t: float) -> None:
    """A segment closed: remember its level, and let a foreground talker raise the reference."""
    level = segment_level(state, None)
    state.segment_db.clear()
    if level is None:
        return
    state.levels[segment] = level
    while len(state.levels) > LEVELS_KEEP:
        state.levels.popitem(last=False)
    if not is_background(level, state, t):
        state.reference_db, state.reference_t = max(level, reference(state, t)), t


def barges_in(state: VoiceState, text: str | None, t: float) -> bool:
    """True once per run of speech, in a voiced chunk, when it is the user really talking (see the module doc).

    `text` is the recognizer's partial of the speech in progress, None when no recognizer runs."""
    if state.run_fired or not state.run_db or t - state.last_voiced_t > VAD_WINDOW_SECONDS * 2:
        return False
    if is_background(float(np.median(state.run_db)), state, t):
        return False
    if text is None:
        fired = state.run_voiced_s >= BARGE_IN_NO_TEXT_S
    else:
        words = re.findall(r"[a-z']+", text.lower())
        fired = state.run_voiced_s >= BARGE_IN_MIN_S and any(w not in BACKCHANNEL for w in words)
    state.run_fired = fired
    return fired
