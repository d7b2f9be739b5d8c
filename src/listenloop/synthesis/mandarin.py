"""Mandarin text -> Kokoro v1.0 phonemes: pypinyin reads the characters (with tones), this module spells each syllable.

Kokoro-82M v1.0 was trained on Mandarin spelled by misaki's first Chinese front end (misaki 0.7-0.9 `zh.ZHG2P`
without a version: jieba words, pypinyin TONE3 syllables, pinyin-to-IPA after Taubert's `pinyin_to_ipa`, tones
written as arrows after the nucleus, the non-syllabic breve dropped). The tables below are that spelling, kept
small and written out here because misaki's Chinese extra pulls cn2an and ordered-set for what is a table lookup;
every symbol they produce is in the model's vocabulary (`check_vocabulary`). Words are found by jieba, as misaki
found them: pypinyin's own segmenter (mmseg) cut "明天" and "今天天气" into single characters, and Whisper base read
Kokoro 3.6 points of CER worse with it (docs/benchmarks/languages.md).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

HAN = "\u4e00-\u9fff"  # CJK unified ideographs: what pypinyin reads
TONES = {"1": "→", "2": "↗", "3": "↓", "4": "↘", "5": ""}  # misaki's arrows for the Chinese tone letters
ASPIRATED = "ʰ"
INITIALS = {  # pinyin initial (strict) -> symbols
    "b": "p", "p": "pʰ", "m": "m", "f": "f", "d": "t", "t": "tʰ", "n": "n", "l": "l", "g": "k", "k": "kʰ",
    "h": "x", "j": "ʨ", "q": "ʨʰ", "x": "ɕ", "zh": "ꭧ", "ch": "ꭧʰ", "sh": "ʂ", "r": "ɻ", "z": "ʦ", "c": "ʦʰ",
    "s": "s",
}
# pinyin final (strict) -> (glide before the nucleus, nucleus, coda after the tone); the tone follows the nucleus
FINALS = {
    "a": ("", "a", ""), "ai": ("", "ai", ""), "an": ("", "a", "n"), "ang": ("", "a", "ŋ"), "ao": ("", "au", ""),
    "e": ("", "ɤ", ""), "ei": ("", "ei", ""), "en": ("", "ə", "n"), "eng": ("", "ə", "ŋ"), "i": ("", "i", ""),
    "ia": ("j", "a", ""), "ian": ("j", "ɛ", "n"), "iang": ("j", "a", "ŋ"), "iao": ("j", "au", ""),
    "ie": ("j", "e", ""), "in": ("", "i", "n"), "iou": ("j", "ou", ""), "ing": ("", "i", "ŋ"),
    "iong": ("j", "ʊ", "ŋ"), "ong": ("", "ʊ", "ŋ"), "ou": ("", "ou", ""), "u": ("", "u", ""),
    "uei": ("w", "ei", ""), "ua": ("w", "a", ""), "uai": ("w", "ai", ""), "uan": ("w", "a", "n"),
    "uen": ("w", "ə", "n"), "uang": ("w", "a", "ŋ"), "ueng": ("w", "ə", "ŋ"), "uo": ("w", "o", ""),
    "o": ("w", "o", ""), "ü": ("", "y", ""), "üe": ("ɥ", "e", ""), "üan": ("ɥ", "ɛ", "n"), "ün": ("", "y", "n"),
}
APICAL_I = "ɨ"  # the "i" of zhi chi shi ri zi ci si
APICAL_AFTER = {"zh", "ch", "sh", "r", "z", "c", "s"}
WHOLE = {  # syllables spelled whole (interjections, syllabic nasals): glide/onset, nucleus
    "er": ("", "ɚ"), "o": ("", "ɔ"), "ê": ("", "ɛ"), "io": ("j", "ɔ"), "m": ("", "m"), "n": ("", "n"),
    "ng": ("", "ŋ"), "hm": ("h", "m"), "hng": ("h", "ŋ"),
}
PUNCTUATION = {"、": ", ", "，": ", ", "。": ". ", "．": ". ", "！": "! ", "：": ": ", "；": "; ", "？": "? ",
               "…": "… ", "—": "— "}  # full width -> the vocabulary's own marks


class MandarinError(ValueError):
    """Text the Mandarin front end cannot spell (digits, Latin letters): write it in characters."""


def _pypinyin():
    try:
        import jieba
        import pypinyin
    except ImportError as e:
        raise MandarinError("pypinyin or jieba is not installed: pip install 'listenloop[voices]'") from e
    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter
    return pypinyin, jieba


def syllable(tone3: str) -> str:
    """One pinyin syllable with its tone digit ("hao3", "de5") in Kokoro's symbols ("xau↓")."""
    pypinyin, _ = _pypinyin()
    from pypinyin.contrib.tone_convert import to_finals, to_initials

    tone = TONES[tone3[-1]] if tone3[-1:] in TONES else ""
    plain = tone3.rstrip("12345").replace("v", "ü")
    if plain in WHOLE:
        onset, nucleus = WHOLE[plain]
        return f"{onset}{nucleus}{tone}"
    initial = to_initials(plain, strict=True)
    final = to_finals(plain, strict=True, v_to_u=True)
    if initial and initial not in INITIALS or final not in FINALS:
        raise MandarinError(f"no spelling for the pinyin syllable {tone3!r}")
    onset = INITIALS.get(initial, "")
    if final == "i" and initial in APICAL_AFTER:
        return f"{onset}{APICAL_I}{tone}"
    glide, nucleus, coda = FINALS[final]
    return f"{onset}{glide}{nucleus}{tone}{coda}"


def phonemes(text: str, sandhi: bool = False) -> str:
    """A Mandarin sentence (characters and punctuation) in Kokoro v1.0's phonemes, words separated by spaces;
    `sandhi` applies pypinyin's tone sandhi (3-3 -> 2-3, 不 and 一 before a fourth tone), which misaki did not."""
    pypinyin, jieba = _pypinyin()
    for mark, replacement in PUNCTUATION.items():
        text = text.replace(mark, replacement)
    out: list[str] = []
    for run in re.findall(f"[{HAN}]+|[^{HAN}]+", text):
        if re.match(f"[{HAN}]", run):
            words = []
            for word in jieba.lcut(run):
                readings = pypinyin.lazy_pinyin(word, style=pypinyin.Style.TONE3, neutral_tone_with_five=True,
                                                tone_sandhi=sandhi)
                words.append("".join(syllable(r) for r in readings))
            out.append(" ".join(words))
            continue
        if re.search(r"[0-9A-Za-z]", run):
            raise MandarinError(f"write {run.strip()!r} in characters: the Mandarin front end reads only Han text")
        out.append(run)
    return re.sub(r"\s+", " ", "".join(out)).strip()


def check_vocabulary(spelled: Iterable[str], vocabulary: Iterable[str]) -> list[str]:
    """The symbols of `spelled` that the model's vocabulary lacks (none, for every table above)."""
    known = set(vocabulary)
    return sorted({c for text in spelled for c in text if c not in known})
