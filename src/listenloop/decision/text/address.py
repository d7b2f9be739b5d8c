"""Who talk is for, from the names in it: the assistant (its name, an alias, a wake word), someone else, or no one
named. One place for the cue words (a per-language lexicon is one more `AddressCues`); docs/conversation.md, "Names".

- The assistant's own name or an alias, or a wake word, as a vocative ("Hey Pascal, ...", "Pascal, ...",
  "..., Pascal?") addresses the assistant, whatever the sentence is (a bare "Hey Pascal." asks for its attention).
- A greeting with a name ("Hey Pascal, what's your name?") when the session was given no name: a person greets a
  device by the name they believe it has, so it is for the assistant. With a name set, another name is someone else.
- A bare name as a vocative ("John, did you call her?", "... did you, Mary?") is someone else, unless it is the
  assistant's: people talking to each other call each other so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from listenloop.decision.text.lexicon import ENGLISH as LEX


class Addressee(StrEnum):
    ASSISTANT = "assistant"  # named as the assistant, or greeted by a name while it has none
    OTHER = "other"  # someone else, by name
    NONE = "none"  # no name in vocative position


@dataclass(frozen=True)
class AddressCues:
    """The words of one language that mark who talk is for."""

    wake_words: tuple[str, ...]  # always the assistant ("computer, ...")
    greetings: tuple[str, ...]  # words that open a call by name ("hey", "hi")
    not_names: frozenset[str]  # capitalized words that open a sentence with a comma but are no names ("Well, ...")
    openers: tuple[str, ...]  # words that open a question after a name the recognizer wrote without its comma


ENGLISH = AddressCues(LEX.wake_words, LEX.greetings, LEX.not_names, LEX.call_openers)  # decision/lexicons/en.toml


@dataclass(frozen=True)
class Address:
    who: Addressee
    name: str = ""  # the name heard ("" for none)


def _alternatives(names: tuple[str, ...]) -> str:
    parts = sorted({n.strip().lower() for n in names if n.strip()}, key=len, reverse=True)
    return "|".join(r"\s+".join(re.escape(w) for w in n.split()) for n in parts)


def addressee(raw: str, names: tuple[str, ...] = (), cues: AddressCues = ENGLISH) -> Address:
    """Who the utterance `raw` (recognizer text, punctuation kept) is for, from its names (`names`: the assistant's
    name and aliases; empty when the session was given none)."""
    greeting = "|".join(re.escape(g) for g in cues.greetings)
    own = _alternatives(names + cues.wake_words)
    opener = "|".join(cues.openers)
    for pattern in (rf"^\W*(?:{greeting})\b[\s,!.]*({own})\b", rf"^\W*({own})\s*[,!?.]", rf",\s*({own})\W*$",
                    rf"^\W*({own})\s+(?:{opener})\b"):
        match = re.search(pattern, raw, flags=re.IGNORECASE)
        if match:
            return Address(Addressee.ASSISTANT, match.group(1))
    greeted = re.search(rf"^\W*(?i:{greeting})\b[\s,!.]*([A-Z][a-z]+)\b", raw)  # the name keeps its capital
    if greeted and greeted.group(1).lower() not in cues.not_names:
        return Address(Addressee.OTHER if names else Addressee.ASSISTANT, greeted.group(1))
    for pattern in (r"^\W*([A-Z][a-z]+),", r",\s*([A-Z][a-z]+)[?.!]?\s*$", rf"^\W*([A-Z][a-z]+)\s+(?i:{opener})\b"):
        match = re.search(pattern, raw)
        if match and match.group(1).lower() not in cues.not_names:
            return Address(Addressee.OTHER, match.group(1))
    return Address(Addressee.NONE)


def is_call(raw: str, names: tuple[str, ...] = (), cues: AddressCues = ENGLISH) -> bool:
    """The whole utterance is a call by name ("John.", "Hey Pascal,"): the speaker paused after it, and what they
    say next is addressed by it (the recognizer often makes the name a segment of its own)."""
    greeting = "|".join(re.escape(g) for g in cues.greetings)
    own = _alternatives(names + cues.wake_words)
    greeted = re.fullmatch(rf"\W*(?i:{greeting})\b[\s,!.]*((?i:{own})|[A-Z][a-z]+)[\s,!.?]*", raw)
    # a name alone only without a full stop: "Great." is a reply, "John" or "John," a call that goes on
    alone = re.fullmatch(rf"\W*((?i:{own})|[A-Z][a-z]+)\s*,?\s*", raw)
    match = greeted or alone
    return match is not None and match.group(1).lower() not in cues.not_names


NAME_MAX_CHARS = 40  # characters; a name is a word or three, not a sentence
NAME_FORM = re.compile(r"^[^\W\d_]+(?:[ '\-][^\W\d_]+){0,2}$")  # letters, up to three words ("Mary Jane", "O'Neil")


class BadName(ValueError):
    """A name or alias that cannot be one (the message says why)."""


def checked_names(name: str | None, aliases: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The assistant's name and aliases, stripped; BadName with the reason for one that cannot be a name."""
    if name is None and aliases:
        raise BadName("aliases need a name: give the name first (--name NAME --alias OTHER)")
    names = tuple(n.strip() for n in ((name,) if name is not None else ()) + tuple(aliases))
    for n in names:
        if len(n) > NAME_MAX_CHARS or not NAME_FORM.match(n):
            raise BadName(f"{n!r} is not a name: use one to three words of letters, at most {NAME_MAX_CHARS} "
                             "characters (e.g. Pascal)")
    return names
