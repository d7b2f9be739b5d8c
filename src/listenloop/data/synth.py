"""Speech with known content, synthesized on the spot: piper (packaged joe voice) and espeak-ng.

Used by the demo, the data builder and the tests. Output is always 16 kHz mono float32.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import wave
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from listenloop.audio.decode import AudioError, resample


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


def espeak(text: str, voice: str = "en-us", rate: float = 1.0, pitch: int = 50) -> np.ndarray:
    """espeak-ng (Debian package `espeak-ng`) to 16 kHz float32."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SynthError("espeak-ng is not installed: apt-get install espeak-ng")
    words_per_minute = str(int(round(175 * rate)))
    proc = subprocess.run(
        [exe, "-v", voice, "-s", words_per_minute, "-p", str(pitch), "--stdout", text],
        capture_output=True,
    )
    if proc.returncode != 0 or not proc.stdout:
        raise SynthError(f"espeak-ng failed for voice {voice!r}: {proc.stderr.decode(errors='replace').strip()}")
    return _wav_bytes_to_float(proc.stdout)


_piper_lock = threading.Lock()


@lru_cache(maxsize=1)
def _piper_voice():
    try:
        from piper import PiperVoice
    except ImportError as e:
        raise SynthError("piper is not installed: pip install 'listenloop[tts]'") from e
    from listenloop.models import model_dir

    folder = model_dir("piper-joe")
    return PiperVoice.load(folder / "en_US-joe-medium.onnx", config_path=folder / "en_US-joe-medium.onnx.json")


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


def speak(text: str, voice: Voice) -> np.ndarray:
    if voice.engine == "piper":
        return piper(text, voice.rate)
    if voice.engine == "espeak":
        return espeak(text, voice.name, voice.rate, voice.pitch)
    raise SynthError(f"unknown synthesizer {voice.engine!r} (use 'piper' or 'espeak')")


def silence(seconds: float) -> np.ndarray:
    from listenloop.audio.constants import SAMPLE_RATE

    return np.zeros(int(round(seconds * SAMPLE_RATE)), dtype=np.float32)
