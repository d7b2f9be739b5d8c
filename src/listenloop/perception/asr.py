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

While the machine is behind real time (several live streams on few cores) the runtime sets `AsrState.pauses_only`:
English partials too are then decoded at pauses only, which takes about half of a stream's CPU off (runtime/load.py).

Speech that is not English gets its partials from Whisper base at pauses only (tiny.en reads it as English
gibberish, and base costs more than a chunk's budget): the chunk at the pause hands the decode to the worker and the
next chunk reports it, live and offline alike.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from listenloop.audio.chunker import Chunk
from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK, VAD_WINDOW_SAMPLES
from listenloop.models import model_dir
from listenloop.perception.agreement import common_prefix
from listenloop.perception.asr_state import (
    CONFIDENT_PROB,
    PREROLL_S,
    SPECULATE_SILENCE_S,
    WEAK_JOIN_S,
    AsrState,
    gate,
    heard_pause,
    identified,
    padded,
    tagger_gate,
    tail_quiet,
    weak_voice,
)
from listenloop.perception.finals import SegmentFinals
from listenloop.perception.language import ENGLISH, SPOKEN, in_script
from listenloop.perception.observation import (
    AsrResult,
    Confidence,
    FinalText,
    PartialText,
    SegmentEnd,
    SoundResult,
    VadResult,
)
from listenloop.perception.vad import SPEECH_OFF_PROB
from listenloop.perception.whisper import Hypothesis, Whisper

CLOSE_SILENCE_S = 0.25  # s of silence after the last voiced window that closes a segment (final latency vs splits)
TAIL_S = 0.2  # s after the last voiced window kept in the segment (<= CLOSE_SILENCE_S; 0.1 s lost final consonants)
AHEAD_S = 0.1  # s before a chunk ends at which its partial starts on a worker thread (the partial lags by this)
PARTIAL_WORKERS = 2  # tiny.en decodes started ahead at a time, for all sessions
PARTIAL_PAD_S = 1.0  # s of zeros appended before a partial decode: Whisper loops on audio that stops abruptly
MAX_SEGMENT_S = 8.0  # s; longer segments are cut at their quietest point, so per-chunk cost stays flat
SPLIT_SEARCH_S = 3.0  # s before the limit searched for that quietest point
MIN_PARTIAL_S = 0.6  # s of segment before tiny.en is first run
LANGUAGES = SPOKEN  # languages the finals may be in: with all 99 open, short telephone English read as Burmese
LANG_DETECT_S = 1.0  # s of a segment on which its language is identified once, for its partials
CONTEXT_GAP_S = 3.0  # s; a final is conditioned on the previous segment's text if that ended this recently
FINAL_WORKERS = 2  # base decodes at a time, for all sessions: with one, 8 live streams' finals queued (p50 3.2 s)
WHISPER_THREADS = 1  # per model: tiny.en partials on one core, base finals on the other (2 threads: slower)
PARTIAL_REPLICAS = 2  # tiny.en decodes at once, from the streams' loops: with one, 4 streams' partials queued behind
# each other (bench server p95 0.5 to 1.1 s; 0.36 s with two, docs/benchmarks/scaling.md)

_SR = SAMPLE_RATE


class Recognizer(SegmentFinals):
    """Whisper tiny.en (partials) and base (finals, language), loaded once; thread-safe."""

    def __init__(
        self,
        tiny_dir: Path | None = None,
        base_dir: Path | None = None,
        close_silence_s: float = CLOSE_SILENCE_S,
        threads: int = WHISPER_THREADS,
        languages: tuple[str, ...] | None = LANGUAGES,
    ) -> None:
        self.tiny = Whisper(tiny_dir or model_dir("whisper-tiny.en"), threads=threads, replicas=PARTIAL_REPLICAS)
        self.base = Whisper(base_dir or model_dir("whisper-base"), threads=threads, replicas=FINAL_WORKERS)
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
        state.hear(chunk.samples[max(0, state.heard - chunk.index * SAMPLES_PER_CHUNK) :], now)
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
            state.open_segment(max(state.audio_start, start), first_window)
        if not state.open:
            return AsrResult(ended=early, suppressed="no voice activity")
        state.track(probs, first_window, sounds)
        result = self._advance(state, now, may_close=early is None)  # one segment end per chunk; a second waits
        state.drop_ahead()  # a decode started for this chunk that it did not use
        return replace(result, ended=early) if early is not None else result

    def listen(self, samples: np.ndarray, probs: np.ndarray, first_window: int, state: AsrState) -> SegmentEnd | None:
        """Audio of the next chunk heard ahead of it, with its VAD windows: close the open segment as soon as its
        silence is long enough (returned, and reported again by the next `step`); start the speculative decode."""
        now = state.heard + len(samples)
        state.hear(samples, now)
        if not state.open or state.early_end is not None:
            return None  # windows are left for `step`, which opens segments
        probs = probs[max(0, state.windows - first_window) :]
        first = state.windows
        state.windows += len(probs)
        state.track(probs, first, None)
        if now - state.voiced_end >= self.close_silence:
            state.early_end = self._close(state, state.voiced_end + int(TAIL_S * _SR))
            return state.early_end
        pause = now - state.voiced_end >= SPECULATE_SILENCE_S * _SR
        if pause:
            self._speculate(state)
        if self._ahead_wanted(state, now, pause) and not self._no_partial(state, now):
            state.drop_ahead()
            lang = self._partial_lang(state, now)
            state.ahead = self._ahead.submit(self._decode, state.clip(state.seg_start, now), state.stable, lang)
            state.ahead_end = now
        return None

    def _ahead_wanted(self, state: AsrState, now: int, pause: bool) -> bool:
        """Whether `listen` starts a partial now: at a pause, the pause partial (once it has heard the pause, as the
        one on the chunk loop does); else one block before the chunk ends, if there is voice the last did not hear."""
        if pause:
            return state.late is None and not heard_pause(state, state.partial_end) and not (
                state.ahead is not None and heard_pause(state, state.ahead_end)
            )
        chunk_end = -(-now // SAMPLES_PER_CHUNK) * SAMPLES_PER_CHUNK
        fresh = state.voiced_end > state.partial_end
        every_chunk = self._partial_lang(state, now) == ENGLISH and not state.pauses_only  # others: at pauses only
        return every_chunk and state.ahead is None and fresh and 0 < chunk_end - now <= AHEAD_S * _SR

    def _advance(self, state: AsrState, now: int, may_close: bool) -> AsrResult:
        """The open segment after a chunk: close it, split it, speculate on its pause, or refresh its partial."""
        if may_close and now - state.voiced_end >= self.close_silence:
            reason = gate(state)  # traced; the segment still closes, with empty final text
            return AsrResult(ended=self._close(state, state.voiced_end + int(TAIL_S * _SR)), suppressed=reason)
        if may_close and now - state.seg_start >= MAX_SEGMENT_S * _SR:
            return AsrResult(ended=self._split(state, now))
        late = self._late_partial(state, now)  # the last chunk's pause partial of speech that is not English
        if now - state.voiced_end >= SPECULATE_SILENCE_S * _SR:
            self._speculate(state)
            if late is not None:
                return late
            if heard_pause(state, state.partial_end):
                return AsrResult(suppressed="pause")
            # once per pause: the words just before it (a question's last ones)
            if self._partial_lang(state, now) != ENGLISH:
                return self._start_late(state, now)
            return self._partial(state, now, heard_all=True)
        if state.speculative is not None:  # speech resumed after a pause: that decode is stale
            state.speculative.cancel()
            state.speculative = None
        if late is not None:
            return late
        if self._partial_lang(state, now) != ENGLISH:
            return AsrResult(suppressed="partial: speech not in English is decoded at pauses")
        if state.pauses_only:
            return AsrResult(suppressed="partial: at pauses only while the machine is behind real time")
        return self._partial(state, now)

    def _start_late(self, state: AsrState, now: int) -> AsrResult:
        """The pause partial of speech that is not English: Whisper base takes a chunk's time or more, so it runs on
        the partial worker (the one `listen` started at the pause, when it heard the pause) and is read at the next
        chunk, on every machine alike (the chunk loop keeps its budget; tests/test_languages.py)."""
        skip = self._no_partial(state, now)
        if skip:
            return AsrResult(suppressed=skip)
        ahead, state.ahead = state.ahead, None
        if ahead is not None and not ahead.cancelled() and heard_pause(state, state.ahead_end):
            state.late, state.late_end = ahead, state.ahead_end
        else:
            if ahead is not None:
                ahead.cancel()
            lang = self._partial_lang(state, now)
            state.late = self._ahead.submit(self._decode, state.clip(state.seg_start, now), state.stable, lang)
            state.late_end = now
        return AsrResult(suppressed="partial: at the pause, read at the next chunk")

    def _late_partial(self, state: AsrState, now: int) -> AsrResult | None:
        """The pause partial `_start_late` started, reported now (None when there is none)."""
        late, state.late = state.late, None
        if late is None or late.cancelled():
            return None
        lang = self._partial_lang(state, now)
        hyp = late.result()  # begun at least a chunk ago: waits only when the worker is far behind
        if (hyp.lang or ENGLISH) != lang:
            return None  # decoded in a language the segment turned out not to be in
        if lang != state.partial_lang:
            state.partial_lang, state.hypothesis, state.stable = lang, "", ""
        return self._report(state, hyp, state.late_end, lang)

    def flush(self, state: AsrState) -> AsrResult:
        """End of stream: close the open segment, if any."""
        if not state.open:
            return AsrResult()
        end = min(state.voiced_end + int(TAIL_S * _SR), state.audio_start + len(state.audio))
        return AsrResult(ended=self._close(state, end))

    def _speculate(self, state: AsrState) -> None:
        """Start the final decode of the segment as it stands, if it is not already running for this end."""
        end = state.voiced_end + int(TAIL_S * _SR)
        if state.speculative is not None and state.speculative_end == end:
            return
        if state.speculative is not None:
            state.speculative.cancel()
        if gate(state):
            state.speculative = None
            return
        audio = state.clip(state.seg_start, end)
        state.speculative = self._submit(audio, state, end)
        state.speculative_end, state.speculative_heard = end, min(end, state.heard)

    def _close(self, state: AsrState, end: int, cut: bool = False) -> SegmentEnd:
        """Close the open segment at stream sample `end` (`cut`: at the length limit, mid-speech); its final comes
        from the speculative decode if valid."""
        state.drop_ahead()  # it heard a segment that is over
        state.drop_late()
        audio = state.clip(state.seg_start, end)
        weak = weak_voice(state)
        reason = weak or tagger_gate(state)
        if reason:
            final: Future[FinalText] = Future()
            final.set_result(
                FinalText(segment=state.segments, t0=state.seconds(state.seg_start), t1=end / _SR, text="", lang=None)
            )
        elif state.speculative is not None and state.speculative_end == end and tail_quiet(state, end):
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
        state.open_segment(cut, window)
        state.probs, state.voiced_end = rest, max(cut, voiced_end)
        state.voiced_windows = sum(p >= SPEECH_OFF_PROB for p in rest)
        state.confident_windows = sum(p >= CONFIDENT_PROB for p in rest)
        return ended

    def _no_partial(self, state: AsrState, now: int) -> str:
        """Why the open segment gets no tiny.en partial now ("" when it does): too short yet, or a gate says it is
        not speech (no partial text on what may never get a final: coughs, clicks, music)."""
        if now - state.seg_start < MIN_PARTIAL_S * _SR:
            return "segment too short for a partial"
        reason = gate(state)
        return f"partial: {reason}" if reason else ""

    def _decode(self, audio: np.ndarray, stable: str, lang: str = ENGLISH) -> Hypothesis:
        """The segment heard so far, forcing the agreed prefix (thread-safe: touches no state): tiny.en for English,
        Whisper base in `lang` for any other language (tiny.en reads Chinese as English gibberish)."""
        audio = padded(audio, PARTIAL_PAD_S)
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
            state.seg_lang = identified(state.identifying)  # on the stream's clock, not the worker's: the same
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
        if ahead is not None and (ahead.cancelled() or heard_all and not heard_pause(state, state.ahead_end)):
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
        return self._report(state, hyp, heard, lang)

    def _report(self, state: AsrState, hyp: Hypothesis, heard: int, lang: str) -> AsrResult:
        """A partial decode of the open segment up to stream sample `heard`: what changed, with its agreed prefix."""
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
