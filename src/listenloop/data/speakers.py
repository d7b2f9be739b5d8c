"""The builder's talkers: a synthetic voice drawn per stream (espeak-ng voice and variant, piper; rate, pitch) and
the speech it says, trimmed to where it is heard."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from listenloop.audio.levels import LEVEL_FRAME_SAMPLES, frame_rms
from listenloop.synthesis.synth import espeak, espeak_broken, piper, piper_broken

SYNTH_ENGINES = ("espeak", "piper")
ESPEAK_VOICES = ("en-us", "en-gb", "en-029", "en-gb-scotland", "en-gb-x-rp", "en-us-nyc", "en-gb-x-gbclan")
ESPEAK_VARIANTS = ("", "+m1", "+m2", "+m3", "+m4", "+m7", "+f1", "+f2", "+f3", "+f4", "+f5")
RATE_RANGE = (0.8, 1.3)  # speaking-rate factor
PITCH_RANGE = (30, 75)  # espeak pitch
# Kokoro's Mandarin: the (style, speed) settings Whisper base read back with a CER under 15 % (bench voices,
# docs/benchmarks/languages.md); the speed is x Kokoro's own pace
KOKORO_SETTINGS = (("jm_kumo", 0.8), ("jm_kumo", 1.0), ("jm_kumo", 1.2), ("jf_gongitsune", 0.8), ("jf_gongitsune", 1.0),
                   ("jf_gongitsune", 1.2))


def trim(x: np.ndarray, floor_db: float = -45.0) -> np.ndarray:
    """Cut leading and trailing near-silence (synthesizers pad their output), so turn times are exact."""
    if not len(x):
        return x
    energy = frame_rms(x)
    if not len(energy):
        return x
    loud = np.nonzero(energy > np.max(energy) * 10 ** (floor_db / 20))[0]
    if not len(loud):
        return x[:0]
    return x[loud[0] * LEVEL_FRAME_SAMPLES : (loud[-1] + 1) * LEVEL_FRAME_SAMPLES]


@dataclass(frozen=True)
class Speaker:
    engine: str  # "espeak" | "piper" | "kokoro"
    voice: str  # espeak voice with variant; Kokoro style
    rate: float
    pitch: int

    def say(self, text: str) -> np.ndarray:
        if self.engine == "real":
            raise ValueError("a real talker says only its recordings (Composer.spoken)")
        if self.engine == "piper":
            return trim(piper(text, self.rate))
        if self.engine == "kokoro":
            from listenloop.synthesis.kokoro_voice import speak_mandarin

            return trim(speak_mandarin(text, self.voice, self.rate))
        return trim(espeak(text, self.voice, self.rate, self.pitch))

    def say_broken(self, pieces: list[str]) -> list[np.ndarray]:
        """A sentence spoken in one breath and cut into its pieces, so each piece sounds unfinished; spoken piece
        by piece when the synthesizer cannot cut it (piper joining the words on either side of a cut)."""
        if self.engine == "piper":
            cut = piper_broken(pieces, self.rate)
        elif self.engine == "kokoro":
            cut = None  # Kokoro's graph reports no alignment to cut at: piece by piece
        else:
            cut = espeak_broken(pieces, self.voice, self.rate, self.pitch)
        return [trim(x) for x in cut] if cut else [self.say(p) for p in pieces]

    @property
    def tag(self) -> str:
        if self.engine == "real":
            return "real"
        if self.engine == "piper":
            return f"piper:{self.rate:.2f}"
        if self.engine == "kokoro":
            return f"kokoro:{self.voice}:{self.rate:.2f}"
        return f"espeak:{self.voice}:{self.rate:.2f}:{self.pitch}"


def draw_speaker(rng: np.random.Generator, engines: tuple[str, ...]) -> Speaker:
    engine = engines[int(rng.integers(0, len(engines)))]
    voice = ESPEAK_VOICES[int(rng.integers(0, len(ESPEAK_VOICES)))]
    voice += ESPEAK_VARIANTS[int(rng.integers(0, len(ESPEAK_VARIANTS)))]
    speaker = Speaker(engine, voice, float(rng.uniform(*RATE_RANGE)), int(rng.integers(*PITCH_RANGE)))
    if engine == "kokoro":  # drawn after the others, so English builds draw what they always drew
        style, speed = KOKORO_SETTINGS[int(rng.integers(0, len(KOKORO_SETTINGS)))]
        return Speaker(engine, style, speed, speaker.pitch)
    return speaker
