"""The sentences of built streams, read from sentences.toml beside this file (data, not code: a new line is a line of
that file). The lists are long so that the held-out half (`content.split_of`) is more than a handful of sentences and
one stream need not say a sentence twice.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

SENTENCES_PATH = Path(__file__).with_name("sentences.toml")

_LISTS = tomllib.loads(SENTENCES_PATH.read_text(encoding="utf-8"))

QUESTIONS: tuple[str, ...] = tuple(_LISTS["questions"])  # what the user asks the assistant
REQUESTS: tuple[str, ...] = tuple(_LISTS["requests"])  # what the user asks it to do
STATEMENTS: tuple[str, ...] = tuple(_LISTS["statements"])  # what the user tells, wanting no reply
CROSSTALK: tuple[tuple[str, ...], ...] = tuple(tuple(d) for d in _LISTS["crosstalk"])  # two people talking together
TELEVISION: tuple[str, ...] = tuple(_LISTS["television"])  # broadcast speech, never addressed to the assistant
