"""Real recorded speech as a talker of built streams: recordings with transcripts, aligned word by word.

The recordings are the Debian package `asterisk-core-sounds-en` (568 studio prompts by one voice, 8 kHz, CC-BY-SA-3.0)
and any `audio path<TAB>transcript` list given on the command line (read in place, never copied). Each transcript is
force-aligned to its audio by Whisper (data/alignment.py) once, and cached; a sentence is then broken between two
words at the quietest point between them, so each piece is exactly the words it is labelled with, in the talker's
own voice and melody (a real sentence cut mid-way does not fall at its end the way a finished one does).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.data import content, mixing
from listenloop.data.manifest import TurnKind

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")  # Debian asterisk-core-sounds-en-wav
ASTERISK_TEXTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")  # "name: text" lines
ASTERISK_HINT = "apt-get install asterisk-core-sounds-en asterisk-core-sounds-en-wav"
MIN_WORDS = 2  # a one-word prompt ("Added.") is no turn of a conversation
CUT_SEARCH_S = 0.08  # the cut is looked for this far around the aligned gap between two words (alignment jitter)
CUT_FRAME_S = 0.01  # energy frame in which the quietest point between two words is found
REQUEST_WORDS = frozenset(  # first words of an instruction (a request to the listener)
    "please press enter dial say record leave try hang remain call stay listen".split())


class RealVoiceError(RuntimeError):
    """The real recordings cannot be read; the message says what to install or fix."""


@dataclass(frozen=True)
class Word:
    text: str  # as written in the transcript, punctuation included
    start: float  # s from the start of the recording
    end: float


@dataclass(frozen=True)
class Recording:
    """One real utterance with its transcript and the aligned time of each word."""

    path: Path
    text: str
    words: tuple[Word, ...]
    source: str  # how the manifest names it: "asterisk:vm-login", "list:jfk.flac"

    @property
    def kind(self) -> TurnKind:
        """A question ends with "?"; an instruction starts with one of REQUEST_WORDS; anything else is told."""
        if self.text.rstrip().endswith("?"):
            return TurnKind.QUESTION
        first = re.sub(r"[^a-z]", "", self.text.split()[0].lower()) if self.text.split() else ""
        return TurnKind.REQUEST if first in REQUEST_WORDS else TurnKind.STATEMENT

    def cut_points(self, audio: np.ndarray, after: list[int]) -> list[int]:
        """The sample (in `audio`, 16 kHz) where the recording is cut after each word count in `after`: the
        quietest 10 ms between the two words' aligned times."""
        frame = int(CUT_FRAME_S * SAMPLE_RATE)
        cuts = []
        for n in after:
            if not 0 < n < len(self.words):
                raise ValueError(f"cannot cut {self.source} after word {n} of {len(self.words)}")
            a = min(self.words[n - 1].end, self.words[n].start) - CUT_SEARCH_S
            b = max(self.words[n - 1].end, self.words[n].start) + CUT_SEARCH_S
            lo, hi = max(int(a * SAMPLE_RATE), 0), min(int(b * SAMPLE_RATE), len(audio))
            if hi - lo < frame:
                cuts.append(min(max(int(self.words[n].start * SAMPLE_RATE), 0), len(audio)))
                continue
            span = audio[lo:hi]
            energy = np.convolve(span.astype(np.float64) ** 2, np.ones(frame), mode="valid")
            cuts.append(lo + int(np.argmin(energy)) + frame // 2)
        return cuts


@dataclass(frozen=True)
class RealVoices:
    """Every aligned recording of a build, in a fixed order (the build is determined by its seed)."""

    recordings: tuple[Recording, ...]

    def of_kind(self, kind: TurnKind) -> tuple[Recording, ...]:
        return tuple(r for r in self.recordings if r.kind is kind)


SPOKEN_KINDS = (TurnKind.QUESTION, TurnKind.REQUEST, TurnKind.STATEMENT)


class RealDecks:
    """The real recordings one stream may use (its half of them, by transcript), drawn without repeats per kind like
    the composer's sentences; `deck` is the composer's Deck class."""

    def __init__(self, voices: RealVoices, split: str, deck: Callable) -> None:
        held = content.in_split(voices.recordings, split, key=lambda r: r.text)
        decks = {k: deck(tuple(r for r in held if r.kind is k)) for k in SPOKEN_KINDS}
        self.by_kind = {k: d for k, d in decks.items() if d.items}
        self.breakable = deck(tuple(r for r in held if content.hesitation_cuts(r.text.split())))

    def spoken(self, rng: np.random.Generator, kind: TurnKind) -> Recording:
        """A recording of `kind` (of another kind when the recordings hold none)."""
        return (self.by_kind.get(kind) or next(iter(self.by_kind.values()))).draw(rng)

    def broken(self, rng: np.random.Generator,
               load: Callable[[Path], np.ndarray]) -> tuple[Recording, list[str], list[np.ndarray]] | None:
        """A recording cut after one or two open words (content.hesitation_cuts): the recording, the words of each
        piece and each piece's audio; None when no recording can be broken."""
        if not self.breakable.items:
            return None
        recording = self.breakable.draw(rng)
        words = recording.text.split()
        cuts = content.hesitation_cuts(words)
        chosen = sorted(int(c) for c in rng.choice(cuts, size=min(len(cuts), int(rng.integers(1, 3))),
                                                   replace=False))
        audio = load(recording.path)
        bounds = [0, *recording.cut_points(audio, chosen), len(audio)]
        pieces = [" ".join(words[a:b]) for a, b in zip([0, *chosen], [*chosen, len(words)], strict=True)]
        return recording, pieces, [mixing.fade(audio[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _clean(text: str) -> str:
    return " ".join(text.replace("...", " ").split())


def asterisk_prompts(sounds: Path = ASTERISK_SOUNDS, texts: Path = ASTERISK_TEXTS) -> list[tuple[Path, str, str]]:
    """(wav, transcript, source) of every spoken asterisk prompt of MIN_WORDS or more words, sorted by name; tones
    ("[this is a simple beep tone]") are left out."""
    if not texts.is_file() or not sounds.is_dir():
        raise RealVoiceError(f"the asterisk prompts are not installed ({texts}): {ASTERISK_HINT}")
    out = []
    with gzip.open(texts, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = (x.strip() for x in line.split(":", 1))
            wav = sounds / f"{name}.wav"
            text = _clean(text)
            if "[" in text or not wav.is_file() or len(text.split()) < MIN_WORDS:
                continue
            out.append((wav, text, f"asterisk:{name}"))
    return sorted(out, key=lambda x: x[2])


def listed_speech(items: tuple[tuple[Path, str], ...]) -> list[tuple[Path, str, str]]:
    """(audio, transcript, source) of an `audio path<TAB>transcript` list (build.read_speech_list)."""
    return [(path, _clean(text), f"list:{path.name}") for path, text in items]


def load_real_voices(prompts: list[tuple[Path, str, str]], progress: bool = True) -> RealVoices:
    """Align every prompt (cached: data/alignment.py) and keep those whose every word has a time."""
    from listenloop.data.alignment import align_all

    aligned = align_all([(path, text) for path, text, _ in prompts], progress=progress)
    recordings = [Recording(path, text, words, source)
                  for (path, text, source), words in zip(prompts, aligned, strict=True)
                  if words is not None and len(words) == len(text.split())]
    if not recordings:
        raise RealVoiceError("no real recording could be aligned to its transcript")
    return RealVoices(tuple(recordings))
