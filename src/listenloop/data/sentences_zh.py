"""The Mandarin sentences of built streams (`data build --language zh`), read from sentences_zh.toml beside this file.

A "|" in a line marks where a pause leaves the sentence unfinished (a hesitation is cut there); `spoken` drops it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

SENTENCES_PATH = Path(__file__).with_name("sentences_zh.toml")
CUT = "|"  # a point where the sentence may be broken by a pause

_LISTS = tomllib.loads(SENTENCES_PATH.read_text(encoding="utf-8"))

QUESTIONS: tuple[str, ...] = tuple(_LISTS["questions"])
REQUESTS: tuple[str, ...] = tuple(_LISTS["requests"])
STATEMENTS: tuple[str, ...] = tuple(_LISTS["statements"])
CROSSTALK: tuple[tuple[str, ...], ...] = tuple(tuple(d) for d in _LISTS["crosstalk"])
TELEVISION: tuple[str, ...] = tuple(_LISTS["television"])
FILLERS: tuple[str, ...] = tuple(_LISTS["fillers"])


def spoken(line: str) -> str:
    """The line as said in one go (its cut marks dropped)."""
    return line.replace(CUT, "")


def pieces(line: str) -> list[str]:
    """The line cut at every mark ("请问|明天..." -> ["请问", "明天..."])."""
    return [p for p in line.split(CUT) if p]
