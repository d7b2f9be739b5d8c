"""A final text is checked against what the partials heard before it replaces them.

Whisper base, given a segment that stops on an open word ("... streaming speech models, and") and the padding after
it, may loop and repeat a phrase it already wrote ("... models and streaming speech models and streaming"). A run of
words that the final repeats while the last partial (tiny.en on the same audio) says it once was not said twice: the
repeat is taken out, with the start of its next turn that the end of the text cut off. Words said twice on purpose
("thank you, thank you") are in the partial twice and stay.
"""

from __future__ import annotations

import re

MIN_REPEAT_WORDS = 2  # a repeated run of this many words or more can be a decoding loop; single words repeat in speech


def _key(token: str) -> str:
    return re.sub(r"[^\w']", "", token.lower())


def _count(run: list[str], words: list[str]) -> int:
    n = len(run)
    return sum(words[i : i + n] == run for i in range(len(words) - n + 1))


def _repeat(keys: list[str], heard: list[str]) -> tuple[int, int] | None:
    """(start, length) of the longest run of words that occurs again later in `keys` but at most once in `heard`;
    the start is the later occurrence's."""
    for n in range(len(keys) // 2, MIN_REPEAT_WORDS - 1, -1):
        for j in range(n, len(keys) - n + 1):
            run = keys[j : j + n]
            if "" in run or run not in (keys[i : i + n] for i in range(j - n + 1)):
                continue
            if _count(run, heard) < 2:
                return j, n
    return None


def checked_final(final: str, heard: str) -> str:
    """`final` with any run of words it repeats, where the partial `heard` (the same audio) has it at most once,
    taken out. Unchanged when there is no partial to compare with."""
    heard_keys = [_key(t) for t in heard.split()]
    if not heard_keys:
        return final
    tokens = final.split()
    while (found := _repeat(keys := [_key(t) for t in tokens], heard_keys)) is not None:
        start, n = found
        run, rest = keys[start : start + n], keys[start + n :]
        if len(rest) < n and rest == run[: len(rest)]:
            rest = []  # the loop's next turn, cut off by the end of the text ("... models and streaming")
        tokens = tokens[:start] + tokens[len(tokens) - len(rest) :] if rest else tokens[:start]
    return " ".join(tokens)
