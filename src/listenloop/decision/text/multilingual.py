"""Cues for talk in languages other than English: one small lexicon per language, read from a data file.

What works across languages comes first: the punctuation the recognizer writes ("?", full-width "？", "¿", a
trailing "..." or "，"). The rest is a short list per language in decision/lexicons/<code>.toml (question particles
such as 吗 / 呢, question words, request openers, fillers such as 嗯 / euh, words a sentence rarely ends on). English
keeps its own rules (decision/utterance.py): this module is asked only for other languages.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from importlib import resources

QUESTION_MARKS = ("?", "？")  # what Whisper ends a question with (half- and full-width)
SENTENCE_ENDS = (".", "?", "!", "。", "？", "！")
OPEN_ENDS = ("...", "…", ",", "，", "、", "-", "—", ":", "：")  # a text ending so stops mid-sentence
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")  # kana and Han characters
_CJK_TEXT = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")  # ... and their punctuation
_KANA = re.compile(r"[\u3040-\u30ff]")
_PAUSE_MARKS = re.compile(r"[,，、\s]")  # inside unspaced text: where the speaker paused, not where a phrase ends
_STRIP = "".join(SENTENCE_ENDS) + "".join(OPEN_ENDS) + "¿¡\"'“”«» "


@dataclass(frozen=True)
class Lexicon:
    """One language's cue words (decision/lexicons/<lang>.toml)."""

    lang: str  # ISO 639-1
    spaced: bool  # words are separated by spaces (False: Chinese, Japanese, matched inside the text)
    question_particles: tuple[str, ...] = ()  # sentence-final particles that make a question (吗, か)
    question_words: tuple[str, ...] = ()  # a question opens with (spaced) or holds (not spaced) one of these
    question_patterns: tuple[str, ...] = ()  # not spaced: regular expressions that ask as a question word does
    # (Mandarin's "A-not-A" 去不去, 几 with any measure word)
    indefinite_before: tuple[str, ...] = ()  # not spaced: a question word right after one of these asks nothing
    # (没多久 "soon", 好几年 "several years")
    indefinite_after: tuple[str, ...] = ()  # ... nor one right before one of these (谁都知道 "everyone knows")
    indefinite_reach: int = 0  # ... or this many characters before one (什么时候来都可以 "whenever he comes is fine")
    request_openers: tuple[str, ...] = ()  # a request opens with one of these (请, dime, sag)
    request_words: tuple[str, ...] = ()  # ... or holds one anywhere (por favor, bitte, ください)
    fillers: tuple[str, ...] = ()  # a piece of only these is no sentence (嗯, euh)
    open_words: tuple[str, ...] = ()  # a sentence rarely ends on these (的, de, und)
    instructions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # instruction kind (decision/
    # instructions.py Kind value) -> phrases that give it ("翻译成")
    language_names: dict[str, str] = field(default_factory=dict)  # a language's spoken name -> ISO 639-1


@functools.cache
def lexicon(lang: str) -> Lexicon | None:
    """The lexicon of `lang`, None when there is none (English has its own rules)."""
    path = resources.files("listenloop.decision.text") / "lexicons" / f"{lang}.toml"
    if lang == "en" or not path.is_file():
        return None
    return read_lexicon(path.read_text(encoding="utf-8"), lang)


def read_lexicon(toml: str, lang: str) -> Lexicon:
    """A lexicon from the text of its data file (the packaged ones, or an older file to compare with)."""
    data = tomllib.loads(toml)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    fields["instructions"] = {k: tuple(v) for k, v in data.get("instructions", {}).items()}
    return Lexicon(lang=lang, **fields)


def instruction(text: str, lang: str | None) -> tuple[str, str | None] | None:
    """An instruction spoken in another language than English, as (kind, target language or None): "把我说的翻译成
    英文" -> ("translate", "en"); None when `text` gives none its lexicon knows."""
    lex = lexicon_for(text, lang)
    if lex is None:
        return None
    core = _core(text)
    for kind, phrases in lex.instructions.items():
        at = next((core.find(p) + len(p) for p in phrases if p in core), -1)
        if at < 0:
            continue
        if kind != "translate":
            return kind, None
        rest = core[at:].lstrip()
        name = next((n for n in sorted(lex.language_names, key=len, reverse=True) if rest.startswith(n)), None)
        if name is not None:
            return kind, lex.language_names[name]
    return None


def lexicon_for(text: str, lang: str | None) -> Lexicon | None:
    """The lexicon to read `text` with: its language's when known and not English; else, for text written in Chinese
    characters or kana (a partial whose language is not known yet), Chinese's or Japanese's."""
    if lang not in (None, "en"):
        return lexicon(lang)
    if lang is None and _CJK.search(text):
        return lexicon("ja" if _KANA.search(text) else "zh")
    return None


def joiner(before: str, after: str) -> str:
    """What goes between two pieces of one sentence: nothing between Chinese or Japanese characters, else a space."""
    return "" if before and after and _CJK_TEXT.match(before[-1]) and _CJK_TEXT.match(after[0]) else " "


def _words(text: str) -> list[str]:
    """Lower-cased words of spaced text, punctuation dropped (apostrophes and hyphens inside words kept)."""
    text = unicodedata.normalize("NFC", text.lower().replace("’", "'"))
    return re.findall(r"\w[\w'\-]*", text)


def _core(text: str) -> str:
    return text.strip().strip(_STRIP).strip()


def _starts(text: str, words: list[str], cues: tuple[str, ...], lex: Lexicon) -> bool:
    if not lex.spaced:
        return text.startswith(cues)
    joined = " ".join(words)
    return any(joined == c or joined.startswith(c + " ") for c in cues)


def _holds(text: str, words: list[str], cues: tuple[str, ...], lex: Lexicon) -> bool:
    if not lex.spaced:
        return any(c in text for c in cues)
    joined = f" {' '.join(words)} "
    return any(f" {c} " in joined for c in cues)


def _asks(text: str, words: list[str], lex: Lexicon) -> bool:
    """A question word or pattern (spaced: one the text opens with; not spaced: one anywhere that is not used as an
    indefinite: 谁都知道, 没多久, 好几年; of overlapping matches the longest: 什么时候都可以 is no question)."""
    if lex.spaced:
        return _starts(text, words, lex.question_words, lex)
    text = _PAUSE_MARKS.sub("", text)  # Whisper writes a pause inside a phrase as a comma: "你想，不想去"
    spans = [(m.start(), m.end()) for w in lex.question_words for m in re.finditer(re.escape(w), text)]
    spans += [(m.start(), m.end()) for p in lex.question_patterns for m in re.finditer(p, text)]
    longest = [(a, b) for a, b in spans if b > a and not any(c <= a and b <= d and d - c > b - a for c, d in spans)]
    return any(not text[:a].endswith(lex.indefinite_before)
               and not any(text[b + k:].startswith(lex.indefinite_after) for k in range(lex.indefinite_reach + 1))
               for a, b in longest)


def _ends(text: str, words: list[str], cues: tuple[str, ...], lex: Lexicon) -> bool:
    if not lex.spaced:
        return text.endswith(cues)
    joined = " ".join(words)
    return any(joined == c or joined.endswith(" " + c) for c in cues)


def _without_fillers(text: str, words: list[str], lex: Lexicon) -> tuple[str, list[str]]:
    """The text after the fillers it opens with ("嗯，那个，换一首歌" -> "换一首歌")."""
    if lex.spaced:
        i = 0
        while i < len(words) and words[i] in lex.fillers:
            i += 1
        return " ".join(words[i:]), words[i:]
    rest = text
    while True:
        rest = rest.lstrip(_STRIP + "，、。")
        head = next((f for f in sorted(lex.fillers, key=len, reverse=True) if rest.startswith(f)), None)
        if head is None:
            return rest, []
        rest = rest[len(head):]


def is_filler(text: str, lex: Lexicon) -> bool:
    """The whole piece is fillers ("嗯。", "那个，那个", "Euh...")."""
    core = _core(text)
    if not core:
        return False
    rest, words = _without_fillers(core, _words(core), lex)
    return not _core(rest) if not lex.spaced else not words


def kind(text: str, lex: Lexicon) -> tuple[str, str]:
    """("question" | "request" | "statement" | "incomplete", why) for one utterance in `lex`'s language; the values
    are decision/utterance.py's Kind."""
    raw = text.strip()
    if not _core(raw) or is_filler(raw, lex):
        return "statement", "no words" if not _core(raw) else "a filler"
    core, words = _without_fillers(_core(raw), _words(_core(raw)), lex)
    if raw.endswith(OPEN_ENDS):
        return "incomplete", f"unfinished ({raw[-6:]!r})"
    if not raw.endswith(SENTENCE_ENDS) and _ends(core, words, lex.open_words, lex):
        return "incomplete", f"unfinished on an open word ({core[-6:]!r})"
    if raw.endswith(QUESTION_MARKS) or raw.startswith("¿"):
        return "question", "question mark"
    if _ends(core, words, lex.question_particles, lex):
        return "question", "question particle"
    if _asks(core, words, lex):
        return "question", "question word"
    if _starts(core, words, lex.request_openers, lex) or _holds(core, words, lex.request_words, lex):
        return "request", "request"
    return "statement", "a statement"


CJK_CHARS_PER_WORD = 2  # Chinese and Japanese words are about this many characters: the length cue counts words


def text_cues(text: str, stable: str, lex: Lexicon) -> list[float]:
    """The decision model's text cues (decision/features.py text_features, same order and meaning) read with `lex`:
    has text, length, question mark or particle, question word, request, open end, filler end, stable share, filler."""
    core = _core(text)
    if not core:
        return [0.0] * 9
    words = _words(core)
    length = len(words) if lex.spaced else len(core) / CJK_CHARS_PER_WORD
    what, why = kind(text, lex)
    rest, rest_words = _without_fillers(core, words, lex)
    return [
        1.0,
        min(length, 20) / 20,
        1.0 if text.rstrip().endswith(QUESTION_MARKS) or why == "question particle" else 0.0,
        1.0 if why == "question word" else 0.0,
        1.0 if what == "request" else 0.0,
        1.0 if what == "incomplete" and "open word" in why else 0.0,
        1.0 if text.rstrip().endswith(OPEN_ENDS) or _ends(rest, rest_words, lex.fillers, lex) else 0.0,
        min(len(stable) / max(len(text), 1), 1.0),
        float(is_filler(text, lex)),
    ]
