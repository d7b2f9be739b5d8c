"""Real speech with transcripts for benchmarks: ../shared recordings and Debian's asterisk prompts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.decode import load_audio
from listenloop.audio.levels import LEVEL_FRAME_SAMPLES, frame_rms
from listenloop.data.real_voice import asterisk_texts as read_asterisk_texts

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TEXTS_IN = "/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz"  # "name: text" lines
ASTERISK_TEXTS = Path(ASTERISK_TEXTS_IN.format(lang="en"))
JFK_TEXT = (
    "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
)
SPEECH_FLOOR_DB = -35.0  # dB below the clip's peak: quieter samples at the edges count as silence


@dataclass(frozen=True)
class Utterance:
    name: str  # file stem
    audio: np.ndarray  # 16 kHz float32
    text: str | None  # reference transcript; None when the recording comes without one
    source: str  # "shared" | "asterisk"


def default_shared_dir() -> Path:
    """../shared/audio/dev next to the checkout (src/listenloop/bench -> repo -> ..)."""
    return Path(__file__).resolve().parents[4] / "shared" / "audio" / "dev"


def shared_speech(shared: Path) -> list[Utterance]:
    out = []
    jfk = shared / "speech" / "jfk.flac"
    if jfk.exists():
        out.append(Utterance("jfk", load_audio(jfk), JFK_TEXT, "shared"))
    libri = shared / "speech" / "198-209-0000.ogg"
    if libri.exists():  # its .txt holds credits, not a transcript: usable for streaming-vs-offline only
        out.append(Utterance("198-209-0000", load_audio(libri), None, "shared"))
    return out


def asterisk_texts(lang: str = "en") -> dict[str, str]:
    """Every prompt text of Debian's asterisk sounds in `lang` at the top of its folder, by prompt name ({} when the
    package is absent)."""
    return {name: text for name, text in read_asterisk_texts(Path(ASTERISK_TEXTS_IN.format(lang=lang)))
            if "/" not in name}


def asterisk_prompts(limit: int | None = None, min_words: int = 4) -> list[Utterance]:
    """Debian's asterisk prompts (8 kHz studio speech) with simple texts: words only, no digits or symbols (184 of
    them with 4+ words, 1665 words); the first `limit` of them when given."""
    if not ASTERISK_SOUNDS.is_dir():
        return []
    out = []
    for name, text in asterisk_texts("en").items():
        path = ASTERISK_SOUNDS / f"{name}.wav"
        if not path.exists() or re.search(r"[^A-Za-z ,.'?!-]", text) or len(text.split()) < min_words or "[" in text:
            continue
        out.append(Utterance(name, load_audio(path), text, "asterisk"))
        if limit is not None and len(out) >= limit:
            break
    return out


def asterisk_prompts_in(lang: str, limit: int | None = None, min_words: int = 3) -> list[Utterance]:
    """Debian's asterisk prompts in another language (`fr`: Canadian French, `es`: Mexican Spanish; 8 kHz studio
    speech, one voice each), with their texts; words only (accented letters kept), no bracketed sounds."""
    sounds = Path(f"/usr/share/asterisk/sounds/{lang}")
    if not sounds.is_dir():
        return []
    out = []
    for name, text in asterisk_texts(lang).items():
        path = sounds / f"{name}.wav"
        if not path.exists() or re.search(r"[^\w ,.'?!¿¡-]|\d", text) or len(text.split()) < min_words:
            continue
        out.append(Utterance(name, load_audio(path), text, "asterisk"))
        if limit is not None and len(out) >= limit:
            break
    return out


def speech_bounds(audio: np.ndarray) -> tuple[float, float]:
    """(start, end) in seconds of the part louder than SPEECH_FLOOR_DB below the peak, in 10 ms frames."""
    energy = frame_rms(audio) + 1e-9
    if not len(energy):
        return 0.0, 0.0
    loud = np.nonzero(20 * np.log10(energy / energy.max()) > SPEECH_FLOOR_DB)[0]
    return loud[0] * LEVEL_FRAME_SAMPLES / SAMPLE_RATE, (loud[-1] + 1) * LEVEL_FRAME_SAMPLES / SAMPLE_RATE
