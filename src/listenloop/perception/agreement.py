"""Text agreement for streaming hypotheses (LocalAgreement) and trimming of decoder loops."""

from __future__ import annotations

import re

LOOP_NGRAM = 4  # words; a repeated 4-gram (case and punctuation ignored) marks a decoder loop in a short partial
LOOP_SAME_WORD = 3  # the same word this many times in a row is a loop ("asked, asked, asked")
LOOP_MAX_PERIOD = 12  # tokens; longest cycle looked for at the end of a decode
LOOP_MIN_REPEATS = 3  # a cycle seen this many times in a row at the end of a decode is a loop

_WORD_KEY = re.compile(r"[^\w']+")


def word_key(word: str) -> str:
    """Comparison form of a word: lowercase, punctuation dropped."""
    return _WORD_KEY.sub("", word.lower())


def trim_loop(text: str) -> str:
    """Cut a hypothesis where the decoder starts repeating itself (Whisper does this at an abrupt audio end)."""
    words = text.split()
    keys = [word_key(w) for w in words]
    seen: set[tuple[str, ...]] = set()
    for i in range(len(words)):
        if i >= LOOP_SAME_WORD - 1 and keys[i] and len(set(keys[i - LOOP_SAME_WORD + 1 : i + 1])) == 1:
            return " ".join(words[: i - LOOP_SAME_WORD + 2])
        if i + LOOP_NGRAM <= len(words):
            gram = tuple(keys[i : i + LOOP_NGRAM])
            if gram in seen:
                return " ".join(words[:i])
            seen.add(gram)
    return text


def common_prefix(a: str, b: str) -> str:
    """The longest run of leading words two hypotheses agree on (compared case- and punctuation-blind).

    The words are taken from `b`, the newer hypothesis."""
    wa, wb = a.split(), b.split()
    n = 0
    while n < min(len(wa), len(wb)) and word_key(wa[n]) == word_key(wb[n]):
        n += 1
    return " ".join(wb[:n])


def loop_start(tokens: tuple[int, ...]) -> int | None:
    """Where a decode falls into a cycle that runs to its end (index just after the first cycle), or None.

    Whisper repeats a token cycle until its budget runs out on audio it cannot read (coughs, music, clipped words)."""
    n, best = len(tokens), None
    for period in range(1, LOOP_MAX_PERIOD + 1):
        j = n - period - 1
        while j >= 0 and tokens[j] == tokens[j + period]:
            j -= 1
        start = j + 1
        if n - start >= period * LOOP_MIN_REPEATS and (best is None or start + period < best):
            best = start + period
    return best
