"""What kind of talk a piece of text is: a question or request for the assistant, a statement, or unfinished.

Text rules over the recognizer's punctuated output; they are cheap enough to run at every pause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from listenloop.decision.text import multilingual
from listenloop.decision.text.address import Addressee, addressee, is_call
from listenloop.decision.text.lexicon import ENGLISH


class Kind(StrEnum):
    QUESTION = "question"  # asks something ("what time is it?")
    REQUEST = "request"  # asks for something to be done ("tell me a joke")
    STATEMENT = "statement"  # says something; needs no answer
    INCOMPLETE = "incomplete"  # stops mid-sentence ("what is the capital of ...")


class About(StrEnum):
    GENERAL = "general"
    SOUND = "sound"  # "what was that noise?"
    MUSIC = "music"  # "what style is this music?"
    COUNT = "count"  # "how many times did it bark?"


@dataclass(frozen=True)
class Heard:
    kind: Kind
    addressed: bool  # meant for the assistant (not for someone else by name)
    about: About
    why: str = ""  # for the decision's reason
    named: bool = False  # the assistant was called by its name (or, with none set, greeted by one): no doubt it is
    # meant for it, so the answer does not wait for the decision model (decision/address.py)


WH_WORDS, AUX_WORDS = ENGLISH.wh_words, ENGLISH.aux_words  # the cue words: decision/lexicons/en.toml
REQUEST_OPENERS, COMMAND_VERBS = ENGLISH.request_openers, ENGLISH.command_verbs
DANGLING, WAKE_WORDS, INTERJECTIONS = ENGLISH.dangling, ENGLISH.wake_words, ENGLISH.interjections
SOUND_WORDS, MUSIC_WORDS, COUNT_WORDS = (re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b")
                                         for words in (ENGLISH.about_sound, ENGLISH.about_music, ENGLISH.about_count))


def analyse(text: str, lang: str | None = None, names: tuple[str, ...] = ()) -> Heard:
    """Classify one utterance (the recognizer's text, punctuation included) in `lang` (None: English, unless the
    text is written in Chinese characters or kana); other languages than English are read with their lexicon.
    `names`: the assistant's name and aliases, if the session has them (decision/address.py)."""
    lex = multilingual.lexicon_for(text, lang)
    if lex is not None:
        kind, why = multilingual.kind(text, lex)
        asks = kind in (Kind.QUESTION, Kind.REQUEST)
        return Heard(Kind(kind), asks, _about(" ".join(words_of(text))), why if not asks else kind)
    raw = text.strip()
    words = words_of(raw)
    if not words:
        return Heard(Kind.STATEMENT, False, About.GENERAL, "no words")
    about = _about(" ".join(words))
    if is_call(raw, names):  # "John." / "Hey Pascal,": the call's sentence follows the pause
        return Heard(Kind.INCOMPLETE, False, about, "a call by name")
    if _unfinished(raw, words):
        return Heard(Kind.INCOMPLETE, False, about, f"unfinished ({words[-1]!r})")
    kind = _kind(raw, words)
    to = addressee(raw, names)
    if to.who is Addressee.ASSISTANT:  # called by name: "Hey Pascal." asks for attention, "Pascal, introduce yourself"
        kind = Kind.REQUEST if kind is Kind.STATEMENT else kind
        return Heard(kind, True, about, f"{kind.value}, addressed by name ({to.name})", named=True)
    if kind is Kind.STATEMENT:
        return Heard(kind, False, about, "a statement")
    if to.who is Addressee.OTHER:
        return Heard(kind, False, about, f"addressed to {to.name}")
    return Heard(kind, True, about, kind.value)


def words_of(text: str) -> list[str]:
    """The words of a text, lowercased, punctuation dropped (digits and apostrophes kept: "50", "what's")."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def _about(words: str) -> About:
    if COUNT_WORDS.search(words):
        return About.COUNT
    if MUSIC_WORDS.search(words):
        return About.MUSIC
    if SOUND_WORDS.search(words):
        return About.SOUND
    return About.GENERAL


def ends_sentence(text: str) -> bool:
    """Whether a transcript ends a sentence: final punctuation (Whisper writes it), not a trailing "..."."""
    raw = text.strip()
    return raw.endswith((".", "?", "!", "。", "？", "！")) and not raw.endswith(("...", "…"))


def _unfinished(raw: str, words: list[str]) -> bool:
    if raw.endswith(("...", "…", ",", "-", "—", ":")):
        return True
    if words[-1] in ("the", "a", "an", "of", "and", "to", "my", "your"):
        return True
    return words[-1] in DANGLING and not raw.endswith(("?", ".", "!"))


def _kind(raw: str, words: list[str]) -> Kind:
    joined = " ".join(words)
    lead = _strip_interjections(words)
    if not lead:
        return Kind.STATEMENT
    if raw.endswith("?"):
        return Kind.QUESTION
    if lead[0] in WH_WORDS or (lead[0] in AUX_WORDS and len(lead) > 1 and lead[1] in _SUBJECTS):
        return Kind.QUESTION
    if _EMBEDDED_QUESTION.search(joined) and not _REPORTED.search(joined):
        return Kind.QUESTION  # "based on the audio below, what is the style of the music clip"
    opener = " ".join(lead)
    if opener.startswith(REQUEST_OPENERS) or lead[0] in COMMAND_VERBS or any(w in joined for w in WAKE_WORDS):
        return Kind.REQUEST
    return Kind.STATEMENT


_EMBEDDED_QUESTION = re.compile(r"\b(what|which|how|who|where|when|why) (is|are|was|were|do|does|did|can|could|"
                                r"would|will|should|kind|style|genre|type)\b")
_REPORTED = re.compile(r"\b(know|knows|knew|wonder|wondered|think|sure|remember|see|saw|tell you|told|asked|"
                       r"ask him|ask her|understand|guess|idea|matter)\b")
_SUBJECTS = frozenset("you i we it there this that they he she the it's your my".split())


def _strip_interjections(words: list[str]) -> list[str]:
    i = 0
    while i < len(words) and (words[i] in INTERJECTIONS or words[i] in WAKE_WORDS):
        i += 1
    return words[i:]
