"""The spoken language of a built stream: its lines (data/sentences*.toml), its fillers, where its sentences may be
broken by a pause, and the talkers that speak it. English is the default; Mandarin (`zh`) is spoken by Kokoro
(synthesis/kokoro_voice.py) only at the settings Whisper base reads back (docs/benchmarks/languages.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from listenloop.data import content, sentences, sentences_zh


@dataclass(frozen=True)
class Lines:
    """What the people of a stream say in one language."""

    code: str  # the language's ISO 639-1 code, as Whisper and the manifest write it
    questions: tuple[str, ...]
    requests: tuple[str, ...]
    statements: tuple[str, ...]
    crosstalk: tuple[tuple[str, ...], ...]
    television: tuple[str, ...]
    fillers: tuple[str, ...]
    engines: tuple[str, ...]  # the synthesizers that speak it (speakers.py)
    spoken: Callable[[str], str]  # a line as said in one go
    pieces: Callable[[str], list[str]]  # a line split at every point where a pause leaves it unfinished (English:
    # compose.Composer.hesitation cuts after content.OPEN_WORDS, as it always has)
    joiner: str  # between the pieces of a broken sentence, as written in a turn's text


ENGLISH = Lines("en", sentences.QUESTIONS, sentences.REQUESTS, sentences.STATEMENTS, sentences.CROSSTALK,
                sentences.TELEVISION, content.FILLERS, ("espeak", "piper"), lambda line: line, lambda line: [line], " ")
MANDARIN = Lines("zh", sentences_zh.QUESTIONS, sentences_zh.REQUESTS, sentences_zh.STATEMENTS, sentences_zh.CROSSTALK,
                 sentences_zh.TELEVISION, sentences_zh.FILLERS, ("kokoro",), sentences_zh.spoken, sentences_zh.pieces,
                 "")
LANGUAGES = {lines.code: lines for lines in (ENGLISH, MANDARIN)}


class LanguageError(ValueError):
    """A language the builder does not speak."""


def lines_of(code: str) -> Lines:
    try:
        return LANGUAGES[code]
    except KeyError:
        raise LanguageError(f"the builder speaks {', '.join(LANGUAGES)}, not {code!r}") from None
