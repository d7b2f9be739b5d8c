"""What the learned decision reads: one Observation (plus a little per-stream history) -> a fixed float vector.

Every feature comes from what the engine already computes each chunk (voice activity, partial text and the
segments it belongs to, a closed segment's final text once it is in, how sure the recognizer was of that text, sound
scores) or from the chunk's samples (level, spectral balance), plus the session's mode.
The `join_*` cues read the sentence a piece belongs to: the piece joined to the one before when that one left its
sentence open ("How do you say thank you in" + "Japanese?"), the piece alone after a finished sentence.
Missing perceivers give zeros, so one model runs with or without recognition. Names are kept for docs/tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.decision import turn
from listenloop.decision.text import multilingual, sentence
from listenloop.decision.text import utterance as utt
from listenloop.decision.text.lexicon import ENGLISH
from listenloop.decision.turn import JOIN_GAP_S, TurnState
from listenloop.perception.observation import Confidence, Observation
from listenloop.vocabulary import Mode

# The words the features read: decision/lexicons/en.toml [model], what the shipped model was trained on.
QUESTION_WORDS, REQUEST_WORDS = ENGLISH.model_question_words, ENGLISH.model_request_words
FILLER_WORDS, OPEN_WORDS = ENGLISH.model_fillers, ENGLISH.model_open_words

SOUND_GROUPS = ENGLISH.model_sound_groups  # AudioSet display-name keywords of the sound groups the model reads
TEXT_CUES = 9  # values text_features gives
CONTEXT_CHUNKS = 3  # the model sees this chunk and the two before it
SILENCE_CAP_S = 3.0  # time features are capped here: beyond it nothing new is learned
SPEECH_CAP_S = 10.0
LAG_CAP_S = 1.0  # speech heard after the audio the last partial covers, capped here
DOUBT_CAP = 5.0  # nats: a token log probability below -DOUBT_CAP is a guess however low it goes
LEVEL_FLOOR_DB = -80.0  # chunk level below this counts as digital silence
RUN_LEVEL_DECAY_DB = 0.02  # per chunk: the loudest speech level of the stream fades slowly (new talker, new room)
MODES = (Mode.ASSISTANT, Mode.TRANSCRIBE, Mode.TRANSLATE, Mode.QUIET)

CHUNK_FEATURES = (
    "vad_max", "vad_mean", "vad_last", "vad_last4", "vad_frac_speech", "vad_speech", "vad_started", "vad_ended",
    "vad_silence", "vad_log_silence", "vad_speech_len", "vad_since_end",
    "level_db", "run_level_rel", "hi_band", "lo_band",
    "snd_speech", *(f"snd_{name}" for name, _ in SOUND_GROUPS), *(f"snd_{name}_recent" for name, _ in SOUND_GROUPS),
    "snd_onsets", "snd_offsets", *(f"snd_{name}_ended" for name, _ in SOUND_GROUPS),
    "txt_has", "txt_words", "txt_qmark", "txt_qword", "txt_request", "txt_open_end", "txt_filler_end",
    "txt_stable_frac", "txt_filler", "txt_segment_end", "txt_age", "txt_none", "txt_lag", "txt_open_segment",
    "txt_final", "txt_doubt_mean", "txt_doubt_last_word", "txt_doubt_ending",
    "join_has", "join_words", "join_qmark", "join_qword", "join_request", "join_open_end", "join_filler_end",
    "join_stable_frac", "join_filler", "join_gap",
)
STREAM_FEATURES = tuple(f"mode_{m.value}" for m in MODES)
FEATURE_NAMES = tuple(f"{n}@{-k}" for k in range(CONTEXT_CHUNKS) for n in CHUNK_FEATURES) + STREAM_FEATURES
N_FEATURES = len(FEATURE_NAMES)


def group_indices(class_names: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """AudioSet class indices of each sound group (by keyword in the display name)."""
    lowered = [n.lower() for n in class_names]
    return tuple(np.array([i for i, n in enumerate(lowered) if any(k in n for k in keys)], dtype=np.int64)
                 for _, keys in SOUND_GROUPS)


@dataclass
class FeatureState:
    """Per-stream memory of the extractor: recent vectors, the last text, the loudest speech level."""

    mode: Mode = Mode.ASSISTANT
    history: list[np.ndarray] = field(default_factory=list)  # last CONTEXT_CHUNKS - 1 chunk vectors, newest last
    turn: TurnState = field(default_factory=TurnState)  # what is being said (decision/turn.py; the conversation
    # policy shares its own)
    run_level_db: float = LEVEL_FLOOR_DB  # level of the current run of speech
    loudest_db: float = LEVEL_FLOOR_DB  # loudest speech run so far (decaying)
    recent_groups: np.ndarray = field(default_factory=lambda: np.zeros(len(SOUND_GROUPS), np.float32))
    chunks_since_end: int = 99  # chunks since VAD last reported an end of speech

    def reset(self) -> None:
        mode, turn = self.mode, self.turn
        self.__init__()  # type: ignore[misc]
        self.mode, self.turn = mode, turn  # (a shared turn stays shared)
        turn.reset()


def _left_open(text: str) -> bool:
    """The sentence so far may go on in the next piece: it reads unfinished (the sentence rules), or it has no
    closing punctuation and stops on an open word or a filler (OPEN_WORDS is wider than the rules' list: a partial
    lags the audio, "What time does")."""
    words = utt.words_of(text)
    if not words:
        return False
    unclosed = not utt.ends_sentence(text)
    return sentence.open_end(text) or unclosed and (words[-1] in OPEN_WORDS or words[-1] in FILLER_WORDS)


def doubt_features(confidence: Confidence) -> list[float]:
    """How unsure the recognizer was of the text, its last word and its ending: 0 certain, 1 a guess."""
    return [min(max(-value, 0.0), DOUBT_CAP) / DOUBT_CAP
            for value in (confidence.mean, confidence.last_word, confidence.ending)]


def text_features(text: str, stable: str) -> list[float]:
    """Cues in the partial text: is it a question or request, does it stop on an open word or a filler (text in
    Chinese characters or kana: the same cues from its lexicon, decision/multilingual.py)."""
    lex = multilingual.lexicon_for(text, None)
    if lex is not None:
        return multilingual.text_cues(text, stable, lex)
    words = utt.words_of(text)
    if not words:
        return [0.0] * TEXT_CUES
    last = words[-1]
    return [
        1.0,
        min(len(words), 20) / 20,
        1.0 if text.rstrip().endswith("?") else 0.0,
        1.0 if words[0] in QUESTION_WORDS else 0.0,
        1.0 if words[0] in REQUEST_WORDS or "please" in words else 0.0,
        1.0 if last in OPEN_WORDS else 0.0,
        1.0 if last in FILLER_WORDS or text.rstrip().endswith(("...", ",")) else 0.0,
        min(len(stable) / max(len(text), 1), 1.0),
        float(sentence.is_filler(text)),
    ]


def _level_features(samples: np.ndarray) -> tuple[float, float, float]:
    """Level (dBFS) and the share of energy above 4 kHz and below 300 Hz."""
    energy = float(np.mean(np.square(samples, dtype=np.float64))) if len(samples) else 0.0
    level = max(10 * np.log10(energy + 1e-12), LEVEL_FLOOR_DB)
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    total = float(spectrum.sum()) + 1e-12
    freqs = np.fft.rfftfreq(len(samples), 1.0 / SAMPLE_RATE)
    return level, float(spectrum[freqs > 4000].sum() / total), float(spectrum[freqs < 300].sum() / total)


class FeatureExtractor:
    """Stateless apart from FeatureState; one instance serves every stream."""

    def __init__(self, class_names: tuple[str, ...] | None = None) -> None:
        self.groups = group_indices(class_names) if class_names else None
        self.group_sets = tuple(frozenset(g.tolist()) for g in self.groups) if self.groups else ()

    def init_state(self, mode: Mode = Mode.ASSISTANT) -> FeatureState:
        return FeatureState(mode=mode)

    def _vad(self, obs: Observation, state: FeatureState) -> list[float]:
        v = obs.vad
        if v is None:
            return [0.0] * 12
        p = v.probs if len(v.probs) else np.zeros(1, np.float32)
        state.chunks_since_end = 0 if v.ended_at is not None else state.chunks_since_end + 1
        since_end = obs.chunk.t1 - v.ended_at if v.ended_at is not None else 0.0
        silence = min(v.silence_s, SILENCE_CAP_S)
        return [float(p.max()), float(p.mean()), float(p[-1]), float(p[-4:].mean()), float((p >= 0.5).mean()),
                float(v.speech), float(v.started_at is not None), float(v.ended_at is not None),
                silence / SILENCE_CAP_S, float(np.log1p(silence)), min(v.speech_s, SPEECH_CAP_S) / SPEECH_CAP_S,
                min(since_end, 1.0)]

    def _level(self, obs: Observation, state: FeatureState) -> list[float]:
        level, hi, lo = _level_features(obs.chunk.samples)
        speaking = obs.vad is not None and (obs.vad.speech or obs.vad.ended_at is not None)
        if obs.vad is not None and obs.vad.started_at is not None:
            state.run_level_db = level
        elif speaking:
            state.run_level_db = max(state.run_level_db, level)
        state.loudest_db = max(state.loudest_db - RUN_LEVEL_DECAY_DB, state.run_level_db if speaking else -80.0)
        rel = (state.run_level_db - state.loudest_db) / 20 if speaking else 0.0
        return [(level - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB, max(rel, -2.0), hi, lo]

    def _sounds(self, obs: Observation, state: FeatureState) -> list[float]:
        s = obs.sounds
        if s is None or self.groups is None or not len(s.scores):
            state.recent_groups *= 0.5
            return [0.0] * (3 + 3 * len(SOUND_GROUPS))
        now = np.array([float(s.scores[g].max()) if len(g) else 0.0 for g in self.groups], np.float32)
        state.recent_groups = np.maximum(now, state.recent_groups * 0.7)  # ~1 s memory: events end before replies
        ended = [float(any(o.index in g for o in s.offsets)) for g in self.group_sets]  # sounds end before replies
        return [s.speech_score, *now.tolist(), *state.recent_groups.tolist(), min(len(s.onsets), 3) / 3,
                min(len(s.offsets), 3) / 3, *ended]

    def _text(self, obs: Observation, state: FeatureState) -> list[float]:
        """Cues in the current segment's text, how much speech it lacks, and the same cues with the segment before."""
        turn.hear(state.turn, obs)  # once per chunk (the conversation policy may have taken it already)
        now = state.turn
        ended = float(obs.asr is not None and obs.asr.ended is not None)
        stale = not now.segment_open and not ended and now.text_age > 8  # an old closed segment: nothing now
        feats = [0.0] * TEXT_CUES if stale else text_features(now.text, now.stable)
        heard = now.segment >= 0 and not stale
        lag = min(max(now.speech_t - now.partial_t1, 0.0), LAG_CAP_S) if heard else 0.0
        gap = now.segment_t0 - now.before_t1
        before = turn.sentence_before(now) if gap < JOIN_GAP_S else ""
        before = before if _left_open(before) else ""  # a finished sentence does not go on in this piece
        joined = before if sentence.is_filler(now.text) else sentence.join(before, now.text)
        join = [0.0] * TEXT_CUES if stale else text_features(joined, sentence.join(before, now.stable))
        return [*feats, ended, min(now.text_age, 10) / 10, float(heard and not now.text), lag / LAG_CAP_S,
                float(now.segment_open), float(now.from_final and not stale),
                *([0.0] * 3 if stale else doubt_features(now.confidence)), *join,
                min(max(gap, 0.0), JOIN_GAP_S) / JOIN_GAP_S]

    def chunk_vector(self, obs: Observation, state: FeatureState) -> np.ndarray:
        parts = (self._vad(obs, state) + self._level(obs, state) + self._sounds(obs, state)
                 + self._text(obs, state))
        return np.asarray(parts, np.float32)

    def step(self, obs: Observation, state: FeatureState) -> np.ndarray:
        """The model input for this chunk: this chunk's vector, the previous ones, and the session's mode."""
        current = self.chunk_vector(obs, state)
        past = state.history[::-1] + [np.zeros_like(current)] * CONTEXT_CHUNKS
        seen = Mode.TRANSCRIBE if state.mode is Mode.TRANSLATE else state.mode  # same timing, not in training data
        mode = np.array([float(seen is m) for m in MODES], np.float32)
        x = np.concatenate([current, *past[: CONTEXT_CHUNKS - 1], mode])
        state.history = (state.history + [current])[-(CONTEXT_CHUNKS - 1):]
        return x
