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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.data import content, mixing
from listenloop.data.alignment import Word, align_all
from listenloop.data.manifest import TurnKind

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")  # Debian asterisk-core-sounds-en-wav
ASTERISK_TEXTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")  # "name: text" lines
ASTERISK_HINT = "apt-get install asterisk-core-sounds-en asterisk-core-sounds-en-wav"
MIN_WORDS = 3  # "Added.", "Invalid choice" are no turns of a conversation
MAX_WORDS = 30  # a whole voicemail menu (18 s) is no turn of a conversation either
CUT_SEARCH_S = 0.04  # the cut is looked for this far around the aligned gap between two words (alignment jitter)
CUT_FRAME_S = 0.01  # energy frame in which the quietest point between two words is found
CUT_DIP_DB = -25.0  # a cut is clean where its 10 ms are this far under the speech level: words run together
# elsewhere ("when our"), and a cut there leaves a sound of one word in the other piece (docs/soundflow.md)
SPEECH_FLOOR = 0.01  # samples above this (full scale 1.0) count towards the speech level
FRAGMENT_ENDS = frozenset("currently have has".split())  # last words of the pieces a phone menu joins, beside
# content.OPEN_WORDS ("There are currently", "You have")
REQUEST_WORDS = frozenset(  # first words of an instruction (a request to the listener)
    "please press enter dial say record leave try hang remain call stay listen".split())


class RealVoiceError(RuntimeError):
    """The real recordings cannot be read; the message says what to install or fix."""


@dataclass(frozen=True)
class Recording:
    """One real utterance with its transcript and the aligned time of each word."""

    path: Path
    text: str
    words: tuple[Word, ...]
    source: str  # how the manifest names it: "asterisk:vm-login", "list:jfk.flac"
    cuts: tuple[tuple[int, int], ...] = ()  # clean hesitation cuts: (words before the cut, sample at 16 kHz)

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


def clean_cuts(recording: Recording, audio: np.ndarray) -> tuple[tuple[int, int], ...]:
    """The cuts after an open word (content.hesitation_cuts) that fall in a real gap between the words."""
    loud = audio[np.abs(audio) > SPEECH_FLOOR]
    if not len(loud):
        return ()
    level = float(np.sqrt(np.mean(loud.astype(np.float64) ** 2)))
    after = content.hesitation_cuts(recording.text.split())
    half = int(CUT_FRAME_S * SAMPLE_RATE) // 2
    out = []
    for n, at in zip(after, recording.cut_points(audio, after), strict=True):
        around = audio[max(at - half, 0): at + half].astype(np.float64)
        if len(around) and np.sqrt(np.mean(around ** 2)) <= level * 10 ** (CUT_DIP_DB / 20):
            out.append((n, at))
    return tuple(out)


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
        self.breakable = deck(tuple(r for r in held if r.cuts))

    def spoken(self, rng: np.random.Generator, kind: TurnKind) -> Recording:
        """A recording of `kind` (of another kind when the recordings hold none)."""
        return (self.by_kind.get(kind) or next(iter(self.by_kind.values()))).draw(rng)

    def broken(self, rng: np.random.Generator,
               load: Callable[[Path], np.ndarray]) -> tuple[Recording, list[str], list[np.ndarray]] | None:
        """A recording cut at one or two of its clean cuts: the recording, the words of each piece and each piece's
        audio; None when no recording can be broken."""
        if not self.breakable.items:
            return None
        recording = self.breakable.draw(rng)
        words = recording.text.split()
        drawn = rng.choice(len(recording.cuts), size=min(len(recording.cuts), int(rng.integers(1, 3))),
                           replace=False)
        chosen = sorted(recording.cuts[int(i)] for i in drawn)
        audio = load(recording.path)
        bounds = [0, *(at for _, at in chosen), len(audio)]
        chosen = [n for n, _ in chosen]
        pieces = [" ".join(words[a:b]) for a, b in zip([0, *chosen], [*chosen, len(words)], strict=True)]
        return recording, pieces, [mixing.fade(audio[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _clean(text: str) -> str:
    return " ".join(text.replace("...", " ").split())


def asterisk_prompts(sounds: Path = ASTERISK_SOUNDS, texts: Path = ASTERISK_TEXTS) -> list[tuple[Path, str, str]]:
    """(wav, transcript, source) of every spoken asterisk prompt of MIN_WORDS to MAX_WORDS words that may end a
    sentence, sorted by name. Left out: tones ("[this is a simple beep tone]", "<beep ascending>"), stage directions
    ("(simple tone sound plays)") and the pieces a phone menu joins that end on an open word ("There are currently",
    "Press 1 for", "You have"). Many whole sentences are written without a full stop ("You are now muted")."""
    if not texts.is_file() or not sounds.is_dir():
        raise RealVoiceError(f"the asterisk prompts are not installed ({texts}): {ASTERISK_HINT}")
    out = []
    for name, said in asterisk_texts(texts):
        wav = sounds / f"{name}.wav"
        text = _clean(said)
        last = re.sub(r"[^a-z']", "", text.split()[-1].lower()) if text else ""
        if any(c in text for c in "[(<") or not MIN_WORDS <= len(text.split()) <= MAX_WORDS:
            continue
        if last in content.OPEN_WORDS or last in FRAGMENT_ENDS:
            continue
        if not wav.is_file():
            continue
        out.append((wav, text, f"asterisk:{name}"))
    return sorted(out, key=lambda x: x[2])


def asterisk_texts(texts: Path) -> list[tuple[str, str]]:
    """(prompt name, text) of every line of an asterisk package's `core-sounds-LANG.txt.gz`, in file order (comments
    starting with ";" left out); [] when the file is absent."""
    if not texts.is_file():
        return []
    with gzip.open(texts, "rt", encoding="utf-8", errors="replace") as f:
        return [tuple(x.strip() for x in line.split(":", 1)) for line in f
                if not line.startswith(";") and ":" in line]


def listed_speech(items: tuple[tuple[Path, str], ...]) -> list[tuple[Path, str, str]]:
    """(audio, transcript, source) of an `audio path<TAB>transcript` list (build.read_speech_list)."""
    return [(path, _clean(text), f"list:{path.name}") for path, text in items]


def load_real_voices(prompts: list[tuple[Path, str, str]], progress: bool = True) -> RealVoices:
    """Align every prompt (cached: data/alignment.py), keep those whose every word has a time, find their clean
    cuts."""
    from listenloop.audio.decode import load_audio

    aligned = align_all([(path, text) for path, text, _ in prompts], progress=progress)
    recordings = []
    for (path, text, source), words in zip(prompts, aligned, strict=True):
        if words is not None and len(words) == len(text.split()):
            recording = Recording(path, text, words, source)
            recordings.append(replace(recording, cuts=clean_cuts(recording, load_audio(path))))
    if not recordings:
        raise RealVoiceError("no real recording could be aligned to its transcript")
    return RealVoices(tuple(recordings))
