"""`bench translation` scores streamed and offline translations against references written by people (the asterisk
packages' texts of the same prompt, the team's Chinese), so that the issue's ratio (streamed BLEU at least 0.95 of
offline's) is measured against people, not against offline itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from listenloop.bench.corpus import asterisk_prompts, asterisk_prompts_in
from listenloop.bench.translation import ZH_REFERENCES, human_references, human_scores

FRENCH = Path("/usr/share/asterisk/sounds/fr")
pytestmark = pytest.mark.skipif(not FRENCH.is_dir() or not asterisk_prompts(1),
                                reason="the asterisk prompts are not installed: apt-get install asterisk-core-sounds-en-"
                                       "wav asterisk-core-sounds-fr-wav asterisk-core-sounds-en asterisk-core-sounds-fr")


def test_a_french_prompt_is_referenced_by_the_english_text_of_the_same_prompt():
    utts = asterisk_prompts_in("fr", 6)
    refs = human_references(utts, "fr", "en")
    by_name = dict(zip((u.name for u in utts), refs, strict=True))
    assert by_name["agent-loggedoff"] == "Agent Logged off."  # "Vous n'êtes plus en ligne."
    assert all(r and r.isascii() for r in refs)


def test_every_english_prompt_of_the_bench_has_a_chinese_reference_in_simplified_characters():
    import opencc

    utts = asterisk_prompts(30, min_words=3)
    refs = human_references(utts, "en", "zh")
    assert all(refs), [u.name for u, r in zip(utts, refs, strict=True) if not r]
    to_simplified = opencc.OpenCC("t2s")
    assert all(to_simplified.convert(r) == r for r in refs)
    assert len(ZH_REFERENCES.read_text(encoding="utf-8").splitlines()) > 30


def test_streamed_and_offline_are_both_scored_against_the_references_and_compared():
    refs = ["Agent logged off.", "Agent logged in.", None]
    offline = ["Agent logged off.", "Agent logged in.", "anything"]
    streamed = ["Agent logged off.", "", "unscored"]  # one empty: streaming lost it
    scores = human_scores(streamed, offline, refs, "en")
    assert scores.prompts == 2
    assert scores.offline_bleu > 99 and scores.stream_bleu < scores.offline_bleu
    assert 0 < scores.ratio < 0.95
    assert human_scores(streamed, offline, [None, None, None], "en") is None
