"""Streaming recognition: Whisper tiny.en partials every chunk, Whisper base finals off the chunk loop.

A segment opens at a voice-activity onset (with a little pre-roll), grows chunk by chunk while tiny.en re-decodes it
(the prefix two successive hypotheses agree on is `stable`, and is forced into the next decode), and closes after a
short silence or at a bounded length. Its final text is computed by Whisper base in a small executor shared by all
streams; the decode starts speculatively as soon as the silence begins, so it is usually ready when the segment closes.
All per-stream state lives in `AsrState`; one `Recognizer` serves many sessions.

A live source delivers audio in blocks smaller than a chunk (a microphone every 0.1 s). `listen` takes those blocks
between chunks: it watches the open segment's silence, starts the speculative decode and closes the segment as soon
as the silence is long enough, instead of at the next chunk boundary (up to 0.4 s later). Partials, splits and
openings stay on the chunk loop; the chunk that contains an early close reports it as its `ended` segment.

`listen` also starts the chunk's partial ahead: once all but the last AHEAD_S of the chunk has arrived (or, at a
pause, once SPECULATE_SILENCE_S of it is heard, with the speculative final), tiny.en decodes the segment heard so far
on a worker thread while the rest of the chunk arrives, and `step` takes the result. The decode costs the same; it
overlaps the wait for the audio, so the chunk's decision comes that much sooner after its last sample. A decode that
no longer fits (the segment closed; at a pause, it did not hear the pause) is dropped and the partial is computed on
the chunk loop as before.
"""

from __future__ import annotations

import time
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from listenloop.audio.chunker import Chunk
from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK, VAD_WINDOW_SAMPLES
from listenloop.audio.levels import frame_rms, narrowband
from listenloop.models import model_dir
from listenloop.perception.agreement import common_prefix
from listenloop.perception.final_check import checked_final
from listenloop.perception.language import ENGLISH, SPOKEN, Script, in_script
from listenloop.perception.observation import (
    AsrResult,
    Confidence,
    FinalText,
    PartialText,
    SegmentEnd,
    SoundResult,
    VadResult,
    final_lang,
)
from listenloop.perception.vad import SPEECH_OFF_PROB
from listenloop.perception.whisper import WHISPER_WINDOW_SAMPLES, Hypothesis, Whisper

PREROLL_S = 0.5  # s of audio kept before the VAD onset, so the first word is not clipped (0.3 s lost jfk's "ask")
CLOSE_SILENCE_S = 0.25  # s of silence after the last voiced window that closes a segment (final latency vs splits)
SPECULATE_SILENCE_S = 0.1  # s of silence after which the final decode starts speculatively (on the tail heard so far)
TAIL_S = 0.2  # s after the last voiced window kept in the segment (<= CLOSE_SILENCE_S, so it is heard when the
# segment closes; a speculative decode may start on less of it); 0.1 s lost final consonants ("locked" -> "log")
TAIL_QUIET_DB = 35.0  # dB under the segment's speech level: a tail the speculative decode missed that is louder than
# this has sound in it ("France" lost its "s" to "friends"), and the final is decoded again on the whole tail
AHEAD_S = 0.1  # s before a chunk ends (a live source's block) at which its partial starts on a worker thread; the
# partial then lags the chunk end by this much (a pause partial starts when the pause is heard instead)
PARTIAL_WORKERS = 2  # tiny.en decodes started ahead at a time, for all sessions
PARTIAL_PAD_S = 1.0  # s of zeros appended before a partial decode: Whisper loops on audio that stops abruptly
FINAL_PAD_S = 6.0  # s of zeros appended before a final decode: asterisk WER 3.2% with 2 s, 1.7% with 6 s
MAX_SEGMENT_S = 8.0  # s; longer segments are cut at their quietest point, so per-chunk cost stays flat (a
# tiny.en re-decode costs one decoder step per token of the whole segment, forced prefix included)
SPLIT_SEARCH_S = 3.0  # s before the limit searched for that quietest point
MIN_PARTIAL_S = 0.6  # s of segment before tiny.en is first run
MIN_VOICED_S = 0.2  # s of voiced windows a segment needs to be recognized at all (clicks, short coughs)
WEAK_JOIN_S = 0.5  # s; a piece whose voice was never clear, followed by speech within this, opens that speech (jfk's
# "ask" peaks at VAD 0.6 and "not" follows 0.1 s later: alone, "ask" was gated as unclear and lost)
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
LANGUAGES = SPOKEN  # languages the finals may be in (perception/language.py); short telephone-band English
# was identified as Burmese (p=0.40) with all 99 open. None opens them all.
LANG_DETECT_S = 1.0  # s of a segment (pre-roll included) on which its language is identified for its partials, once
# (Whisper base's encoder on that second); until then a segment's partials take the previous segment's language
# Whisper base partials (a segment not in English) are decoded at pauses only, the partial the decision reads: one
# every chunk cost 1.5 to 2.3 times tiny.en's (docs/benchmarks/languages.md), past the 150 ms per-chunk budget
CONTEXT_GAP_S = 3.0  # s; a final is conditioned on the previous segment's text when that ended at most this long
# before it began (one speaker's sentence split at a pause: LibriSpeech "easy | till I have" came out "to live")
FINAL_WORKERS = 1  # base decodes at a time, for all sessions
WHISPER_THREADS = 1  # per model: tiny.en partials on one core, base finals on the other. On this 2-core machine
# (quiet) a second thread made tiny.en slower (4 s partial: 36 + 140 ms vs 27 + 101 ms encode + decode) and base
# no faster (asterisk prompt: median 362 vs 375 ms), and two 2-thread models fought over both cores

_SR = SAMPLE_RATE


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
    language: str | None = None  # the session's pinned language (ISO 639-1); None: identified per segment
    script: Script = Script.SIMPLIFIED  # how Chinese text is written (finals and partials)
    seg_lang: str | None = None  # the open segment's language, once identified on its first LANG_DETECT_S
    identifying: Future[tuple[str, float]] | None = None  # that identification, running on a worker
    identified_by: int = 0  # stream sample from which its result is used (waited for if late): one chunk after it
    last_lang: str | None = None  # the language of the last segment identified (partials start in it)
    partial_lang: str = ENGLISH  # the language the open segment's last partial was decoded in

    def reset(self) -> None:
        for future in (self.speculative, self.ahead, self.identifying):
            if future is not None:
                future.cancel()
        fresh = AsrState(language=self.language, script=self.script)  # the session's options stay
        self.__dict__.update(fresh.__dict__)

    def seconds(self, sample: int) -> float:
        return sample / _SR

    def clip(self, start: int, end: int) -> np.ndarray:
        return self.audio[max(0, start - self.audio_start) : max(0, end - self.audio_start)].copy()


class Recognizer:
    """Whisper tiny.en (partials) and base (finals, language), loaded once; thread-safe."""

    def __init__(
        self,
        tiny_dir: Path | None = None,
        base_dir: Path | None = None,
        close_silence_s: float = CLOSE_SILENCE_S,
        threads: int = WHISPER_THREADS,
        languages: tuple[str, ...] | None = LANGUAGES,
    ) -> None:
        self.tiny = Whisper(tiny_dir or model_dir("whisper-tiny.en"), threads=threads)
        self.base = Whisper(base_dir or model_dir("whisper-base"), threads=threads)
        self.close_silence = int(close_silence_s * _SR)
        self.languages = languages
        self._executor = ThreadPoolExecutor(max_workers=FINAL_WORKERS, thread_name_prefix="listenloop-final")
        self._ahead = ThreadPoolExecutor(max_workers=PARTIAL_WORKERS, thread_name_prefix="listenloop-partial")

    def init_state(self) -> AsrState:
        return AsrState()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._ahead.shutdown(wait=False, cancel_futures=True)

    # -- the chunk loop -------------------------------------------------------------------------------------------

    def step(self, chunk: Chunk, vad: VadResult, sounds: SoundResult | None, state: AsrState) -> AsrResult:
        """One chunk: track the segment, close it (final decode in the executor) or refresh the partial."""
        now = (chunk.index + 1) * SAMPLES_PER_CHUNK
        self._hear(state, chunk.samples[max(0, state.heard - chunk.index * SAMPLES_PER_CHUNK) :], now)
        probs = vad.probs[max(0, state.windows - vad.first_window) :]  # windows `listen` has not tracked
        first_window = state.windows
        state.windows += len(probs)
        early, state.early_end = state.early_end, None
        if not state.open and vad.started_at is not None:
            started = int(vad.started_at * _SR)
            start = max(state.last_end, started - int(PREROLL_S * _SR))
            if state.weak_start is not None and started - state.weak_end <= WEAK_JOIN_S * _SR:
                start = state.weak_start  # the unclear piece just before is this speech's opening
            state.weak_start = None
            self._open(state, max(state.audio_start, start), first_window)
        if not state.open:
            return AsrResult(ended=early, suppressed="no voice activity")
        self._track(state, probs, first_window, sounds)
        result = self._advance(state, now, may_close=early is None)  # one segment end per chunk; a second waits
        self._drop_ahead(state)  # a decode started for this chunk that it did not use
        return replace(result, ended=early) if early is not None else result

    def listen(self, samples: np.ndarray, probs: np.ndarray, first_window: int, state: AsrState) -> SegmentEnd | None:
        """Audio of the next chunk heard ahead of it, with its VAD windows: close the open segment as soon as its
        silence is long enough (returned, and reported again by the next `step`); start the speculative decode."""
        now = state.heard + len(samples)
        self._hear(state, samples, now)
        if not state.open or state.early_end is not None:
            return None  # windows are left for `step`, which opens segments
        probs = probs[max(0, state.windows - first_window) :]
        first = state.windows
        state.windows += len(probs)
        self._track(state, probs, first, None)
        if now - state.voiced_end >= self.close_silence:
            state.early_end = self._close(state, state.voiced_end + int(TAIL_S * _SR))
            return state.early_end
        pause = now - state.voiced_end >= SPECULATE_SILENCE_S * _SR
        if pause:
            self._speculate(state)
        if self._ahead_wanted(state, now, pause) and not self._no_partial(state, now):
            self._drop_ahead(state)
            lang = self._partial_lang(state, now)
            state.ahead = self._ahead.submit(self._decode, state.clip(state.seg_start, now), state.stable, lang)
            state.ahead_end = now
        return None

    def _ahead_wanted(self, state: AsrState, now: int, pause: bool) -> bool:
        """Whether `listen` starts a partial now: at a pause, the pause partial (once it has heard the pause, as the
        one on the chunk loop does); else one block before the chunk ends, if there is voice the last did not hear."""
        if pause:
            return not _heard_pause(state, state.partial_end) and not (
                state.ahead is not None and _heard_pause(state, state.ahead_end)
            )
        chunk_end = -(-now // SAMPLES_PER_CHUNK) * SAMPLES_PER_CHUNK
        fresh = state.voiced_end > state.partial_end
        english = self._partial_lang(state, now) == ENGLISH  # others are decoded at pauses only
        return english and state.ahead is None and fresh and 0 < chunk_end - now <= AHEAD_S * _SR

    def _advance(self, state: AsrState, now: int, may_close: bool) -> AsrResult:
        """The open segment after a chunk: close it, split it, speculate on its pause, or refresh its partial."""
        if may_close and now - state.voiced_end >= self.close_silence:
            reason = self._gate(state)  # traced; the segment still closes, with empty final text
            return AsrResult(ended=self._close(state, state.voiced_end + int(TAIL_S * _SR)), suppressed=reason)
        if may_close and now - state.seg_start >= MAX_SEGMENT_S * _SR:
            return AsrResult(ended=self._split(state, now))
        if now - state.voiced_end >= SPECULATE_SILENCE_S * _SR:
            self._speculate(state)
            if _heard_pause(state, state.partial_end):
                return AsrResult(suppressed="pause")
            # once per pause: the words just before it (a question's last ones)
            return self._partial(state, now, heard_all=True)
        if state.speculative is not None:  # speech resumed after a pause: that decode is stale
            state.speculative.cancel()
            state.speculative = None
        if self._partial_lang(state, now) != ENGLISH and state.ahead is None:  # (one `listen` started at a pause)
            return AsrResult(suppressed="partial: speech not in English is decoded at pauses")
        return self._partial(state, now)

    def flush(self, state: AsrState) -> AsrResult:
        """End of stream: close the open segment, if any."""
        if not state.open:
            return AsrResult()
        end = min(state.voiced_end + int(TAIL_S * _SR), state.audio_start + len(state.audio))
        return AsrResult(ended=self._close(state, end))

    def _hear(self, state: AsrState, samples: np.ndarray, now: int) -> None:
        """Append samples ending at stream sample `now`; keep the open segment's audio, or only the pre-roll plus one
        chunk when no segment is open."""
        if len(samples):
            state.audio = np.concatenate([state.audio, np.asarray(samples, np.float32)])
        state.heard = now
        keep_from = state.seg_start if state.open else now - int(PREROLL_S * _SR) - SAMPLES_PER_CHUNK
        if state.weak_start is not None and now - state.weak_end > WEAK_JOIN_S * _SR + SAMPLES_PER_CHUNK:
            state.weak_start = None  # no speech followed it closely enough
        if not state.open and state.weak_start is not None:
            keep_from = min(keep_from, state.weak_start)
        drop = max(0, keep_from - state.audio_start)
        if drop:
            state.audio = state.audio[drop:]
            state.audio_start += drop
        state.audio_start = now - len(state.audio)

    def _open(self, state: AsrState, start: int, first_window: int) -> None:
        state.open, state.seg_start, state.voiced_end, state.voiced_windows = True, start, start, 0
        state.confident_windows = 0
        state.probs, state.probs_first = [], first_window
        state.hypothesis = state.stable = ""
        state.confidence = Confidence()
        state.partial_end = 0
        state.speech_score, state.tagger_seen = 0.0, False
        state.speculative, state.speculative_end = None, 0
        state.seg_lang, state.partial_lang, state.identifying = None, ENGLISH, None
        known = final_lang(state.last_final) if state.last_final is not None else None
        state.last_lang = known or state.last_lang  # the last segment's final, when it is in

    def _track(self, state: AsrState, probs: np.ndarray, first_window: int, sounds: SoundResult | None) -> None:
        state.probs.extend(float(p) for p in probs)
        voiced = np.flatnonzero(probs >= SPEECH_OFF_PROB)
        if len(voiced):
            state.voiced_windows += len(voiced)
            state.confident_windows += int(np.count_nonzero(probs >= CONFIDENT_PROB))
            state.voiced_end = max(state.voiced_end, (first_window + int(voiced[-1]) + 1) * VAD_WINDOW_SAMPLES)
        if sounds is not None and float(np.max(sounds.scores, initial=0.0)) > 0.0:
            state.tagger_seen = True
            state.speech_score = max(state.speech_score, sounds.speech_score)

    def _gate(self, state: AsrState) -> str:
        """Why the open segment should get no text at all ("" when it may)."""
        return self._weak_voice(state) or self._tagger_gate(state)

    @staticmethod
    def _weak_voice(state: AsrState) -> str:
        """Why the open segment's voice is too little or too unclear to recognize on its own ("" when it is not)."""
        if state.voiced_windows * VAD_WINDOW_SAMPLES < MIN_VOICED_S * _SR:
            return f"too little voice ({state.voiced_windows * VAD_WINDOW_SAMPLES / _SR:.2f} s)"
        if state.confident_windows < MIN_CONFIDENT_WINDOWS and not (
            state.speech_score >= NARROWBAND_SPEECH_MIN and _narrowband(state)
        ):
            return f"voice never clear ({state.confident_windows} windows >= {CONFIDENT_PROB})"
        return ""

    @staticmethod
    def _tagger_gate(state: AsrState) -> str:
        if state.tagger_seen and state.speech_score < SOUND_SPEECH_MIN and not (
            state.confident_windows >= NARROWBAND_CONFIDENT_WINDOWS and _narrowband(state)
        ):
            return f"sound tagger hears no speech (score {state.speech_score:.2f})"
        return ""

    def _speculate(self, state: AsrState) -> None:
        """Start the final decode of the segment as it stands, if it is not already running for this end."""
        end = state.voiced_end + int(TAIL_S * _SR)
        if state.speculative is not None and state.speculative_end == end:
            return
        if state.speculative is not None:
            state.speculative.cancel()
        if self._gate(state):
            state.speculative = None
            return
        audio = state.clip(state.seg_start, end)
        state.speculative = self._submit(audio, state, end)
        state.speculative_end, state.speculative_heard = end, min(end, state.heard)

    def _close(self, state: AsrState, end: int, cut: bool = False) -> SegmentEnd:
        """Close the open segment at stream sample `end` (`cut`: at the length limit, mid-speech); its final comes
        from the speculative decode if valid."""
        self._drop_ahead(state)  # it heard a segment that is over
        audio = state.clip(state.seg_start, end)
        weak = self._weak_voice(state)
        reason = weak or self._tagger_gate(state)
        if reason:
            final: Future[FinalText] = Future()
            final.set_result(
                FinalText(segment=state.segments, t0=state.seconds(state.seg_start), t1=end / _SR, text="", lang=None)
            )
        elif state.speculative is not None and state.speculative_end == end and _tail_quiet(state, end):
            final = state.speculative
        else:
            if state.speculative is not None:
                state.speculative.cancel()  # it missed part of the tail that has sound in it (a final "s")
            final = self._submit(audio, state, end)
        ended = SegmentEnd(
            segment=state.segments,
            t0=state.seconds(state.seg_start),
            t1=state.seconds(end),
            audio=audio,
            last_partial="" if reason else state.hypothesis,
            final=final,
            cut=cut,
            last_confidence=Confidence() if reason else state.confidence,
        )
        state.segments += 1
        state.open, state.speculative, state.last_end = False, None, end
        state.weak_start, state.weak_end = (state.seg_start, end) if weak else (None, 0)
        state.last_final = final
        return ended

    def _context(self, state: AsrState) -> Future[FinalText] | None:
        """The previous segment's final, when it is close enough before the open segment to be its context."""
        if state.last_final is None or state.seg_start - state.last_end > CONTEXT_GAP_S * _SR:
            return None
        return state.last_final

    def _split(self, state: AsrState, now: int) -> SegmentEnd:
        """Force-close a long segment at its quietest recent window; the rest starts the next segment."""
        lo = max(0, int((now - SPLIT_SEARCH_S * _SR) // VAD_WINDOW_SAMPLES) - state.probs_first)
        hi = max(lo + 1, int((now - self.close_silence) // VAD_WINDOW_SAMPLES) - state.probs_first)
        window = state.probs_first + lo + int(np.argmin(state.probs[lo:hi]))
        cut = (window * VAD_WINDOW_SAMPLES) + VAD_WINDOW_SAMPLES // 2
        rest = state.probs[window - state.probs_first :]
        voiced_end = state.voiced_end
        ended = self._close(state, cut, cut=True)
        self._open(state, cut, window)
        state.probs, state.voiced_end = rest, max(cut, voiced_end)
        state.voiced_windows = sum(p >= SPEECH_OFF_PROB for p in rest)
        state.confident_windows = sum(p >= CONFIDENT_PROB for p in rest)
        return ended

    @staticmethod
    def _drop_ahead(state: AsrState) -> None:
        if state.ahead is not None:
            state.ahead.cancel()  # a running decode finishes on its worker; its result is never read
            state.ahead = None

    def _no_partial(self, state: AsrState, now: int) -> str:
        """Why the open segment gets no tiny.en partial now ("" when it does): too short yet, or a gate says it is
        not speech (no partial text on what may never get a final: coughs, clicks, music)."""
        if now - state.seg_start < MIN_PARTIAL_S * _SR:
            return "segment too short for a partial"
        reason = self._gate(state)
        return f"partial: {reason}" if reason else ""

    def _decode(self, audio: np.ndarray, stable: str, lang: str = ENGLISH) -> Hypothesis:
        """The segment heard so far, forcing the agreed prefix (thread-safe: touches no state): tiny.en for English,
        Whisper base in `lang` for any other language (tiny.en reads Chinese as English gibberish)."""
        audio = _padded(audio, PARTIAL_PAD_S)
        model = self.tiny if lang == ENGLISH else self.base
        hyp = model.decode(model.encode(audio), language=lang, prefix=model.encode_prefix(stable))
        return hyp if lang == ENGLISH else replace(hyp, lang=lang)

    def _partial_lang(self, state: AsrState, now: int) -> str:
        """The language the open segment's partial is decoded in: the pinned one; else the segment's own, identified
        once on its first LANG_DETECT_S; before that, the last segment's (English at first)."""
        if state.language is not None:
            return state.language
        if state.seg_lang is None and state.identifying is None and now - state.seg_start >= LANG_DETECT_S * _SR:
            first = state.clip(state.seg_start, state.seg_start + int(LANG_DETECT_S * _SR))
            state.identifying = self._ahead.submit(self._identify, first)  # off the chunk loop: as costly as a
            # tiny.en partial, it would double the chunk that pays it
            state.identified_by = now + SAMPLES_PER_CHUNK
        if state.seg_lang is None and state.identifying is not None and now >= state.identified_by:
            state.seg_lang = _identified(state.identifying)  # on the stream's clock, not the worker's: the same
            state.last_lang = state.seg_lang or state.last_lang  # partials on any machine and under any load
        return state.seg_lang or state.last_lang or ENGLISH

    def _identify(self, audio: np.ndarray) -> tuple[str, float]:
        """The language of a segment's first second, among the recognizer's languages (thread-safe)."""
        return self.base.detect_language(self.base.encode(audio), self.languages)

    def _partial(self, state: AsrState, now: int, heard_all: bool = False) -> AsrResult:
        """Re-decode the open segment with tiny.en, forcing the agreed prefix; report what changed. The decode
        `listen` started ahead is used when there is one (if `heard_all`: only if it heard the pause after the last
        voiced window, where a word's tail may still be: one that stopped just past it lost "-ing" of "morning")."""
        ahead, state.ahead = state.ahead, None
        if ahead is not None and (ahead.cancelled() or heard_all and not _heard_pause(state, state.ahead_end)):
            ahead.cancel()
            ahead = None
        skip = self._no_partial(state, now)
        if skip:
            return AsrResult(suppressed=skip)
        lang = self._partial_lang(state, now)
        if ahead is not None and (ahead.result().lang or ENGLISH) != lang:
            ahead = None  # decoded in a language the segment turned out not to be in
        if lang != state.partial_lang:  # the agreed prefix was in another language
            state.partial_lang, state.hypothesis, state.stable = lang, "", ""
        if ahead is not None:
            hyp, heard = ahead.result(), state.ahead_end
        else:
            hyp, heard = self._decode(state.clip(state.seg_start, now), state.stable, lang), now
        state.partial_end = heard
        if not hyp.text:
            return AsrResult(suppressed=f"partial: {hyp.rejected}")
        text = in_script(hyp.text, lang, state.script)
        stable = common_prefix(state.hypothesis, text) if state.hypothesis else ""
        if len(stable) < len(state.stable) or not text.startswith(state.stable):
            stable = state.stable
        changed = text != state.hypothesis
        state.hypothesis, state.stable = text, stable
        if not changed:
            return AsrResult()
        state.confidence = hyp.confidence
        t0, t1 = state.seconds(state.seg_start), state.seconds(heard)
        return AsrResult(partial=PartialText(segment=state.segments, t0=t0, t1=t1, text=text, stable=stable,
                                             confidence=hyp.confidence, lang=lang))

    # -- finals -----------------------------------------------------------------------------------------------------

    def _submit(self, audio: np.ndarray, state: AsrState, end: int) -> Future[FinalText]:
        """The open segment's final decode (up to `end`), in the session's pinned language and script; checked
        against what the partials heard (perception/final_check.py)."""
        return self._executor.submit(self._final, audio, state.segments, state.seg_start / _SR, end / _SR,
                                     self._context(state), state.hypothesis, state.language, state.script)

    def _final(
        self, audio: np.ndarray, segment: int, t0: float, t1: float, context: Future[FinalText] | None, heard: str,
        language: str | None = None, script: Script = Script.SIMPLIFIED,
    ) -> FinalText:
        """Whisper base on the segment, its text checked against `heard`, the last partial (final_check.py)."""
        # finals run in submission order, so the context's decode has finished unless it was cancelled or failed
        previous = context.result().text if context is not None and context.done() and not context.cancelled() \
            and context.exception() is None else ""
        final = self.transcribe_segment(audio, language=language, previous=previous)
        text = checked_final(final.text, heard)
        return replace(final, segment=segment, t0=t0, t1=t1, text=in_script(text, final.lang, script))

    def transcribe_segment(
        self, audio: np.ndarray, task: str = "transcribe", language: str | None = None, previous: str = ""
    ) -> FinalText:
        """Whisper base on one closed segment (real length plus a short pad): text, language, gating figures.
        `previous` is the text just before it (Whisper's conditioning on earlier text)."""
        if task not in ("transcribe", "translate"):
            raise ValueError(f"task must be 'transcribe' or 'translate', got {task!r}")
        started = time.perf_counter()
        hyp: Hypothesis = self.base.transcribe(
            _padded(audio, FINAL_PAD_S), task=task, language=language, languages=self.languages, previous=previous
        )
        return FinalText(
            segment=0,
            t0=0.0,
            t1=len(audio) / _SR,
            text=hyp.text,
            lang=hyp.lang,
            lang_prob=hyp.lang_prob,
            no_speech_prob=hyp.no_speech_prob,
            decode_ms=(time.perf_counter() - started) * 1000.0,
            confidence=hyp.confidence,
        )

    def offline_transcribe(self, audio: np.ndarray, model: str = "base") -> str:
        """Reference: the same model on the whole recording in Whisper's own 30 s windows (padded), greedy."""
        whisper = {"base": self.base, "tiny": self.tiny}.get(model)
        if whisper is None:
            raise ValueError(f"model must be 'base' or 'tiny', got {model!r}")
        texts = []
        for start in range(0, max(1, len(audio)), WHISPER_WINDOW_SAMPLES):
            piece = audio[start : start + WHISPER_WINDOW_SAMPLES]
            hyp = whisper.transcribe(piece, pad_to=WHISPER_WINDOW_SAMPLES, languages=self.languages)
            texts.append(hyp.text)
        return " ".join(t for t in texts if t)


def _identified(future: Future[tuple[str, float]]) -> str | None:
    """The language an identification found, waiting for it; None when it failed or was cancelled."""
    try:
        return future.result()[0]
    except (CancelledError, RuntimeError, ValueError):
        return None


def _heard_pause(state: AsrState, end: int) -> bool:
    """Whether a decode that heard the open segment up to `end` heard SPECULATE_SILENCE_S of its pause."""
    return end - state.voiced_end >= SPECULATE_SILENCE_S * _SR


def _tail_quiet(state: AsrState, end: int) -> bool:
    """Whether the part of the segment a speculative decode did not hear (up to `end`) holds no sound: no 10 ms frame
    within TAIL_QUIET_DB of the segment's speech level (its 95th-percentile frame)."""
    missing = frame_rms(state.clip(state.speculative_heard, end))
    level = frame_rms(state.clip(state.seg_start, state.speculative_heard))
    if not len(missing) or not len(level):
        return True
    floor = np.percentile(level, 95) * 10 ** (-TAIL_QUIET_DB / 20)
    return bool(np.max(missing) < floor)


def _padded(audio: np.ndarray, pad_s: float) -> np.ndarray:
    return np.concatenate([np.asarray(audio, np.float32), np.zeros(int(pad_s * _SR), np.float32)])


def _narrowband(state: AsrState) -> bool:
    """The open segment's voice is telephone-band (computed only where a gate would otherwise close it)."""
    return narrowband(state.clip(state.seg_start, state.voiced_end))
