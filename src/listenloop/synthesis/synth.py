"""Speech with known content, synthesized on the spot: piper (packaged joe voice) and espeak-ng.

Used by the demo, the data builder and the tests. Output is always 16 kHz mono float32.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.decode import AudioError, resample

# A sentence broken by pauses is spoken in one breath and cut where it pauses, so each piece keeps the melody of a
# sentence that goes on (no final fall, no final lengthening), as a person's does when they stop to think.
ESPEAK_MARK_PAUSE_MS = 1500  # the SSML break espeak-ng speaks where the sentence is cut, found again as silence
ESPEAK_MARK_MIN_S = 1.0  # a silence at least this long in espeak's output is one of those breaks
SILENCE_AMPLITUDE = 1e-4  # samples below this (full scale 1.0) are the synthesizer's own silence
CUT_FADE_S = 0.01  # fade at each cut, so no click is left where a word was cut from the next


class SynthError(RuntimeError):
    """A synthesizer is not installed or failed; the message says what to install."""


@dataclass(frozen=True)
class Voice:
    engine: str  # "piper" | "espeak"
    name: str = "en-us"  # espeak voice (e.g. "en-us+m3", "en+f2"); ignored by piper (one packaged voice)
    rate: float = 1.0  # speaking-rate factor (1.0 = the engine's default)
    pitch: int = 50  # espeak pitch 0..99


def _wav_bytes_to_float(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        frames = w.readframes(w.getnframes())
    if width != 2:
        raise AudioError(f"expected 16-bit wav from the synthesizer, got {8 * width}-bit")
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return resample(samples, rate)


def espeak(text: str, voice: str = "en-us", rate: float = 1.0, pitch: int = 50, ssml: bool = False) -> np.ndarray:
    """espeak-ng (Debian package `espeak-ng`) to 16 kHz float32; `ssml` reads the text as SSML markup."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SynthError("espeak-ng is not installed: apt-get install espeak-ng")
    words_per_minute = str(int(round(175 * rate)))
    proc = subprocess.run(
        [exe, "-v", voice, "-s", words_per_minute, "-p", str(pitch), *(["-m"] if ssml else []), "--stdout", text],
        capture_output=True,
    )
    if proc.returncode != 0 or not proc.stdout:
        raise SynthError(f"espeak-ng failed for voice {voice!r}: {proc.stderr.decode(errors='replace').strip()}")
    return _wav_bytes_to_float(proc.stdout)


_piper_lock = threading.Lock()


@lru_cache(maxsize=2)
def _piper_voice(alignments: bool = False):
    """The packaged voice, repeatable (piper_voice.py: one text at one rate is always spoken the same way); with
    `alignments`, patched in memory to report where each phoneme lies in its audio (only the data builder asks)."""
    try:
        import onnx  # noqa: F401
        import piper  # noqa: F401
    except ImportError as e:
        raise SynthError("piper is not installed: pip install 'listenloop[tts]'") from e
    from listenloop.models import model_dir
    from listenloop.synthesis import piper_voice

    folder = model_dir("piper-joe")
    return piper_voice.load(folder / "en_US-joe-medium.onnx", folder / "en_US-joe-medium.onnx.json", alignments)


def piper_stream(text: str, rate: float = 1.0):
    """Yield (16 kHz float32 audio, sentence text) per sentence, as piper produces them."""
    from piper import SynthesisConfig

    voice = _piper_voice()
    config = SynthesisConfig(length_scale=1.0 / rate)
    with _piper_lock:
        pieces = list(voice.synthesize(text, syn_config=config))
    for piece in pieces:
        yield resample(piece.audio_float_array.astype(np.float32), piece.sample_rate), " ".join(piece.phonemes)


def piper(text: str, rate: float = 1.0) -> np.ndarray:
    """The packaged piper joe voice to 16 kHz float32."""
    parts = [audio for audio, _ in piper_stream(text, rate)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _faded(x: np.ndarray) -> np.ndarray:
    n = min(int(CUT_FADE_S * SAMPLE_RATE), len(x) // 2)
    if n:
        x = x.copy()
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def _phoneme_words(phonemes: Sequence[str]) -> list[str]:
    """Phonemes grouped into spoken words (espeak may join a function word to its neighbour: "out of")."""
    return [w for w in "".join(p for p in phonemes if p not in "ˈˌ").split(" ") if w.strip(",.?!;:")]


def piper_broken(pieces: Sequence[str], rate: float = 1.0) -> list[np.ndarray] | None:
    """The pieces spoken by piper as one sentence and cut between them (16 kHz float32 each).

    None when a cut falls inside a word group piper speaks as one (espeak joins "of a" into one word); the caller
    then speaks the pieces one by one."""
    from piper import SynthesisConfig

    voice = _piper_voice(alignments=True)
    config = SynthesisConfig(length_scale=1.0 / rate)
    with _piper_lock:
        spoken = list(voice.synthesize(" ".join(pieces), syn_config=config, include_alignments=True))
        heads = [voice.phonemize(" ".join(pieces[: i + 1])) for i in range(len(pieces) - 1)]
    if len(spoken) != 1 or not spoken[0].phoneme_alignments:
        return None
    chunk = spoken[0]
    words, ends, at, word = [], [], 0, ""  # the spoken words and the sample where each ends (at piper's rate)
    for a in chunk.phoneme_alignments:
        if a.phoneme == " " and word:
            words.append(word)
            ends.append(at + int(a.num_samples) // 2)  # the cut: halfway into the boundary between two words
            word = ""
        elif a.phoneme not in "^$ˈˌ,.?!;:":
            word += a.phoneme
        at += int(a.num_samples)
    cuts = []
    for head in heads:
        head_words = _phoneme_words([p for sentence in head for p in sentence])
        n = len(head_words)
        if n > len(ends) or words[:n - 1] != head_words[:-1] or abs(len(words[n - 1]) - len(head_words[-1])) > 1:
            return None
        cuts.append(round(ends[n - 1] * SAMPLE_RATE / chunk.sample_rate))
    audio = resample(chunk.audio_float_array.astype(np.float32), chunk.sample_rate)
    bounds = [0, *cuts, len(audio)]
    return [_faded(audio[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def espeak_broken(pieces: Sequence[str], voice: str = "en-us", rate: float = 1.0,
                  pitch: int = 50) -> list[np.ndarray] | None:
    """The pieces spoken by espeak-ng as one sentence, with an SSML break where each is cut (16 kHz float32 each).

    None when the breaks cannot be found again in the audio."""
    mark = f'<break time="{ESPEAK_MARK_PAUSE_MS}ms"/>'
    audio = espeak(f" {mark} ".join(escape(p) for p in pieces), voice, rate, pitch, ssml=True)
    quiet = np.abs(audio) < SILENCE_AMPLITUDE
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    runs = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True)
            if b - a >= ESPEAK_MARK_MIN_S * SAMPLE_RATE and a > 0 and b < len(audio)]
    if len(runs) != len(pieces) - 1:
        return None
    bounds = [0, *(x for run in runs for x in run), len(audio)]
    return [_faded(audio[a:b]) for a, b in zip(bounds[::2], bounds[1::2], strict=True)]


def speak(text: str, voice: Voice) -> np.ndarray:
    if voice.engine == "piper":
        return piper(text, voice.rate)
    if voice.engine == "espeak":
        return espeak(text, voice.name, voice.rate, voice.pitch)
    raise SynthError(f"unknown synthesizer {voice.engine!r} (use 'piper' or 'espeak')")


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * SAMPLE_RATE)), dtype=np.float32)
