"""Forced alignment of a known transcript to its recording: the time of each word, from Whisper's cross-attention.

CTranslate2's `Whisper.align` (through faster-whisper's `find_alignment`, the code behind its word timestamps) is given
the transcript's own tokens, so every written word gets a time even where recognition would hear another word
(docs/benchmarks/decisions.md compares it with the word timestamps of a transcription). Results are cached per
recording and transcript, so a build aligns each prompt once per machine.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from listenloop.audio.decode import load_audio

ALIGN_MODEL = "whisper-base"  # the larger of the packaged models: its attention is the more exact clock
WINDOW_FRAMES = 3000  # Whisper's encoder window, 30 s of 10 ms frames
HOP_SAMPLES = 160  # 10 ms at 16 kHz: one feature frame
CACHE_VERSION = 1  # bumped when the way words are timed changes


@dataclass(frozen=True)
class Word:
    """One word of a transcript and where it was said."""

    text: str  # as written in the transcript, punctuation included
    start: float  # s from the start of the recording
    end: float


def cache_path() -> Path:
    from listenloop.models.store import cache_dir

    return cache_dir().parent / "alignments" / f"{ALIGN_MODEL}-v{CACHE_VERSION}.json"


def _key(path: Path, text: str) -> str:
    digest = hashlib.sha1(path.read_bytes())
    digest.update(text.encode("utf-8"))
    return digest.hexdigest()


class Aligner:
    """One Whisper model, aligning one recording at a time."""

    def __init__(self, threads: int = 1) -> None:
        try:
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer
        except ImportError as e:
            raise RuntimeError("faster-whisper is not installed: pip install 'listenloop[asr]'") from e
        from listenloop.models import model_dir

        self.model = WhisperModel(str(model_dir(ALIGN_MODEL)), device="cpu", compute_type="int8",
                                  cpu_threads=threads)
        self.tokenizer = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual, task="transcribe",
                                   language="en")

    def align(self, audio, text: str) -> list[tuple[float, float]] | None:
        """(start, end) in s of each space-separated word of `text` in `audio` (16 kHz), None when the tokenizer's
        words do not match the transcript's or the audio is longer than one window."""
        if len(audio) > WINDOW_FRAMES * HOP_SAMPLES:
            return None
        features = self.model.feature_extractor(audio)
        frames = features.shape[1] - features.shape[1] % 2  # the encoder halves the frames: an even count
        encoded = self.model.encode(features[:, :frames])  # the real audio only, not padded to 30 s (10x faster)
        tokens = self.tokenizer.encode(" " + text.strip())
        found = self.model.find_alignment(self.tokenizer, [tokens], encoded, len(audio) // HOP_SAMPLES)[0]
        words: list[tuple[float, float]] = []
        for w in found:
            if any(c.isalnum() for c in w["word"]) or not words:
                words.append((float(w["start"]), float(w["end"])))
            # a punctuation token is a word of its own to the tokenizer: it belongs to the word before
        if len(words) != len(text.split()):
            return None
        return words

    def transcribed_words(self, audio) -> list[tuple[str, float, float]]:
        """What a plain transcription hears, with faster-whisper's word timestamps (for comparison)."""
        segments, _ = self.model.transcribe(audio, language="en", beam_size=5, word_timestamps=True,
                                            condition_on_previous_text=False)
        return [(w.word.strip(), w.start, w.end) for s in segments for w in (s.words or [])]


def align_all(items: Sequence[tuple[Path, str]], progress: bool = True):
    """Word timings of every (recording, transcript), in order: a tuple of Word, or None where the
    alignment failed. Recordings aligned before are read from the cache."""
    path = cache_path()
    cache: dict[str, list[list[float]] | None] = {}
    if path.is_file():
        try:
            cache = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache = {}
    keys = [_key(p, text) for p, text in items]
    missing = [i for i, k in enumerate(keys) if k not in cache]
    if missing:
        aligner = Aligner()
        for i in tqdm(missing, desc="aligning real speech", unit="recording", file=sys.stderr,
                      disable=not progress):
            p, text = items[i]
            times = aligner.align(load_audio(p), text)
            cache[keys[i]] = [list(t) for t in times] if times is not None else None
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(cache), encoding="utf-8")
        partial.replace(path)
    out = []
    for (_, text), key in zip(items, keys, strict=True):
        times = cache[key]
        out.append(None if times is None else tuple(
            Word(word, round(a, 3), round(b, 3)) for word, (a, b) in zip(text.split(), times, strict=True)))
    return out
