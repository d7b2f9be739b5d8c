"""Synthetic voices in other languages, judged by whether Whisper base transcribes them back.

Before a built stream relies on espeak-ng speaking Spanish, French, German or Mandarin, each voice and rate is
spoken, recognized by Whisper base (language identified among perception/language.py SPOKEN) and scored: character
error rate against the text, and how often the language was identified right (docs/benchmarks/languages.md).
"""

from __future__ import annotations

import argparse
import re
import unicodedata

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.bench.choices import comma_list
from listenloop.bench.wer import edit_distance

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--languages", default="es,fr,de,zh", type=comma_list(SENTENCES, "language"),
                        help="comma-separated, of " + ", ".join(SENTENCES))


def _chars(text: str) -> list[str]:
    return list(re.sub(r"[^\w]", "", unicodedata.normalize("NFC", text.lower())))


def run(args: argparse.Namespace) -> int:
    from listenloop.perception.asr import Recognizer
    from listenloop.perception.language import in_script
    from listenloop.synthesis.synth import espeak

    languages = args.languages
    rec, pad = Recognizer(), np.zeros(int(PAD_S * SAMPLE_RATE), np.float32)
    for lang in languages:
        for voice in VOICES[lang]:
            for rate in RATES:
                errors = chars = right = 0
                example = ""
                for text in SENTENCES[lang]:
                    final = rec.transcribe_segment(np.concatenate([pad, espeak(text, voice, rate), pad]))
                    heard = in_script(final.text, final.lang)
                    errors += edit_distance(_chars(text), _chars(heard))
                    chars += len(_chars(text))
                    right += final.lang == lang
                    example = example or f"{final.lang}: {heard}"
                print(f"{lang} voice {voice} rate {rate}: CER {100 * errors / chars:.0f} %, language right {right}/"
                      f"{len(SENTENCES[lang])}; e.g. {example!r}", flush=True)
    rec.close()
    return 0
