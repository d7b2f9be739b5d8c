"""Which languages a session hears, and Chinese in the script the user reads.

Whisper base identifies 99 languages; short or telephone-band English was taken for Burmese or Welsh with all of them
open, so identification is limited to the languages listenloop answers in (SPOKEN). Chinese comes out of Whisper in
either script ("換一首歌" for "换一首歌"); OpenCC (a kept converter, not a hand table) puts it in the script asked
for: simplified by default, traditional on request.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum

SPOKEN = ("en", "zh", "es", "fr", "de", "ja")  # languages identified, answered and read by the decision; the
# first is the default when identification is unsure (perception/whisper.py detect_language)
ENGLISH = "en"


class Script(StrEnum):
    """How Chinese text is written in transcripts and everything that reads them."""

    SIMPLIFIED = "simplified"  # mainland China, Singapore (the default)
    TRADITIONAL = "traditional"  # Taiwan, Hong Kong


_OPENCC_CONFIG = {Script.SIMPLIFIED: "t2s", Script.TRADITIONAL: "s2t"}  # OpenCC's conversion tables
# What a text in Chinese or Japanese holds at least one of: Han characters (and kana)
_OWN_SCRIPT = {"zh": re.compile("[\u3400-\u9fff\uf900-\ufaff]"), "ja": re.compile("[\u3040-\u30ff\u3400-\u9fff]")}


def check_language(code: str | None) -> str | None:
    """`code` if it is one listenloop hears (or None: identify it per segment); a clear error otherwise."""
    if code is None or code in SPOKEN:
        return code
    raise ValueError(f"language must be one of {', '.join(SPOKEN)} (ISO 639-1), got {code!r}")


@functools.cache
def _converter(script: Script):
    try:
        import opencc
    except ImportError as e:  # pragma: no cover - the package is a core dependency
        raise RuntimeError("Chinese script conversion needs OpenCC: pip install opencc==1.4.2") from e
    return opencc.OpenCC(_OPENCC_CONFIG[script])


def in_script(text: str, lang: str | None, script: Script = Script.SIMPLIFIED) -> str:
    """Chinese `text` written in `script`; text in any other language as it is."""
    if lang != "zh" or not text:
        return text
    return _converter(script).convert(text)


def written_in_own_script(text: str, lang: str | None) -> bool:
    """Whether `text`, said to be in `lang`, is written in that language's script: Chinese and Japanese hold Han
    characters or kana (Whisper base, conditioned on English text before it, writes Mandarin speech as an English
    sentence while reporting zh); other languages are not checked."""
    pattern = _OWN_SCRIPT.get(lang or "")
    return pattern is None or not text or bool(pattern.search(text))
