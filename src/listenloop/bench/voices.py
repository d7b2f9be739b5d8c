"""Synthetic voices in other languages, judged by whether Whisper base transcribes them back.

Before a built stream relies on espeak-ng speaking Spanish, French, German or Mandarin, each voice and rate is
spoken, recognized by Whisper base (language identified among perception/language.py SPOKEN) and scored: character
error rate against the text, and how often the language was identified right (docs/benchmarks/languages.md).
Mandarin is also spoken by Kokoro-82M (`--engines kokoro`: every packaged style at each of KOKORO_SPEEDS), on the
builder's own Mandarin sentences (data/sentences_zh.toml), beside espeak-ng's cmn on the same sentences.
"""

from __future__ import annotations

import argparse
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.bench.choices import comma_list
from listenloop.bench.wer import edit_distance
from listenloop.synthesis.kokoro_voice import STYLES as KOKORO_STYLES

SENTENCES = {  # written for this check: a question, a statement, a request per language
    "es": ("¿Dónde está la estación de tren?", "Hoy hace muy buen tiempo.", "¿Qué hora es?",
           "Dime un chiste, por favor.", "Mi hermano trabaja en un hospital."),
    "fr": ("Où est la gare la plus proche ?", "Il fait très beau aujourd'hui.", "Quelle heure est-il ?",
           "Raconte-moi une blague, s'il te plaît.", "Mon frère travaille dans un hôpital."),
    "de": ("Wo ist der nächste Bahnhof?", "Heute ist das Wetter sehr schön.", "Wie spät ist es?",
           "Erzähl mir bitte einen Witz.", "Mein Bruder arbeitet in einem Krankenhaus."),
    "zh": ("你好，请问今天天气怎么样？", "换一首歌。"),
}
VOICES = {"es": ("es", "es+f3"), "fr": ("fr", "fr+m3"), "de": ("de", "de+f2"), "zh": ("cmn",)}  # espeak-ng names
RATES = (0.75, 1.0)  # x espeak-ng's 175 words per minute
PAD_S = 0.5  # s of silence around each sentence
KOKORO_SPEEDS = (0.8, 1.0, 1.2)  # x Kokoro's own pace
ZH_PER_KIND = 4  # Mandarin sentences per kind (question, request, statement) for the Kokoro comparison
ENGINES = ("espeak", "kokoro")


@dataclass(frozen=True)
class VoiceScore:
    """One voice setting's readback by Whisper base."""

    lang: str
    engine: str
    voice: str  # espeak voice or Kokoro style
    rate: float
    cer: float  # character errors / reference characters
    lang_right: int  # sentences whose language Whisper identified right
    sentences: int
    example: str  # the first sentence as heard ("lang: text")
    cer_pinned: float  # ... with Whisper told the language (a session pinned with --language)
    seconds: float = 0.0  # synthesis wall time, all sentences
    audio_s: float = 0.0  # synthesized audio, all sentences

    def line(self) -> str:
        speed = f", synthesis RTF {self.seconds / self.audio_s:.2f}" if self.audio_s else ""
        return (f"{self.lang} {self.engine} {self.voice} rate {self.rate}: CER {100 * self.cer:.1f} % "
                f"(language pinned {100 * self.cer_pinned:.1f} %), language right {self.lang_right}/"
                f"{self.sentences}{speed}; e.g. {self.example!r}")


def zh_sentences() -> tuple[str, ...]:
    """The first ZH_PER_KIND questions, requests and statements of the builder's Mandarin lines."""
    from listenloop.data import sentences_zh as zh

    return tuple(zh.spoken(x) for kind in (zh.QUESTIONS, zh.REQUESTS, zh.STATEMENTS) for x in kind[:ZH_PER_KIND])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--languages", default="es,fr,de,zh", type=comma_list(SENTENCES, "language"),
                        help="comma-separated, of " + ", ".join(SENTENCES))
    parser.add_argument("--engines", default="espeak", type=comma_list(ENGINES, "engine"),
                        help="espeak (every language) and/or kokoro (Mandarin only; listenloop models fetch kokoro)")
    parser.add_argument("--styles", default=",".join(KOKORO_STYLES), type=comma_list(KOKORO_STYLES, "style"),
                        help="Kokoro styles to try")


def _chars(text: str) -> list[str]:
    return list(re.sub(r"[^\w]", "", unicodedata.normalize("NFC", text.lower())))


def score(rec, say: Callable[[str], np.ndarray], texts: tuple[str, ...], lang: str, engine: str, voice: str,
          rate: float) -> VoiceScore:
    """Speak each text with `say`, have Whisper base (`rec`, a Recognizer) read it back, and count the errors."""
    from listenloop.perception.language import in_script

    pad = np.zeros(int(PAD_S * SAMPLE_RATE), np.float32)
    errors = pinned = chars = right = 0
    example, spent, audio_s = "", 0.0, 0.0
    for text in texts:
        started = time.perf_counter()
        audio = say(text)
        spent += time.perf_counter() - started
        audio_s += len(audio) / SAMPLE_RATE
        final = rec.transcribe_segment(np.concatenate([pad, audio, pad]))
        heard = in_script(final.text, final.lang)
        errors += edit_distance(_chars(text), _chars(heard))
        told = final if final.lang == lang else rec.transcribe_segment(np.concatenate([pad, audio, pad]),
                                                                        language=lang)
        pinned += edit_distance(_chars(text), _chars(in_script(told.text, lang)))
        chars += len(_chars(text))
        right += final.lang == lang
        example = example or f"{final.lang}: {heard}"
    return VoiceScore(lang, engine, voice, rate, errors / max(chars, 1), right, len(texts), example,
                      pinned / max(chars, 1), spent, audio_s)


def run(args: argparse.Namespace) -> int:
    from listenloop.perception.asr import Recognizer
    from listenloop.synthesis.synth import espeak

    rec = Recognizer()
    if "espeak" in args.engines:
        for lang in args.languages:
            texts = zh_sentences() if lang == "zh" and "kokoro" in args.engines else SENTENCES[lang]
            for voice in VOICES[lang]:
                for rate in RATES:
                    say = partial(espeak, voice=voice, rate=rate)
                    print(score(rec, say, texts, lang, "espeak", voice, rate).line(), flush=True)
    if "kokoro" in args.engines:
        from listenloop.synthesis.kokoro_voice import KokoroError, speak_mandarin

        for style in args.styles:
            for speed in KOKORO_SPEEDS:
                try:
                    result = score(rec, partial(speak_mandarin, style=style, speed=speed), zh_sentences(), "zh",
                                   "kokoro", style, speed)
                except KokoroError as e:
                    print(f"bench voices: {e}")
                    return 2
                print(result.line(), flush=True)
    rec.close()
    return 0
