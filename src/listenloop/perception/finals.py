"""Final texts: Whisper base on a closed segment, off the chunk loop (perception/asr.py submits them), and on whole
recordings as the offline reference. The recognizer (perception/asr.py Recognizer) inherits these; they read its
`base` and `tiny` models and its `languages`.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import replace

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.perception.asr_state import padded
from listenloop.perception.final_check import checked_final
from listenloop.perception.language import Script, in_script, written_in_own_script
from listenloop.perception.observation import FinalText
from listenloop.perception.whisper import WHISPER_WINDOW_SAMPLES, Hypothesis, Whisper

FINAL_PAD_S = 6.0  # s of zeros appended before a final decode: asterisk WER 3.2% with 2 s, 1.7% with 6 s


def _context_text(context: Future[FinalText] | None) -> str:
    """The previous segment's final text ("" if it has none, was cancelled or failed). It was submitted before this
    final, and the workers take finals in submission order, so it is running or done: waiting for it never waits on
    queued work, and a final reads the same context with one worker or several."""
    if context is None:
        return ""
    try:
        return context.result().text
    except Exception:  # noqa: BLE001 - cancelled, or failed (its own session got the error): this final goes on
        return ""


class SegmentFinals:
    """Whisper base on closed segments and whole recordings."""

    base: Whisper
    tiny: Whisper
    languages: tuple[str, ...] | None

    def _final(
        self, audio: np.ndarray, segment: int, t0: float, t1: float, context: Future[FinalText] | None, heard: str,
        language: str | None = None, script: Script = Script.SIMPLIFIED,
    ) -> FinalText:
        """Whisper base on the segment, its text checked against `heard`, the last partial (final_check.py)."""
        previous = _context_text(context)
        final = self.transcribe_segment(audio, language=language, previous=previous)
        if previous and not written_in_own_script(final.text, final.lang):  # the text before pulled it into English
            final = self.transcribe_segment(audio, language=language)
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
            padded(audio, FINAL_PAD_S), task=task, language=language, languages=self.languages, previous=previous
        )
        return FinalText(
            segment=0,
            t0=0.0,
            t1=len(audio) / SAMPLE_RATE,
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
