"""`bench translation` scores streamed and offline translations against translations written by people (the
team's, of the asterisk prompts' texts), so that the issue's ratio (streamed BLEU at least 0.95 of offline's) is
measured against people, not against offline itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from listenloop.bench.corpus import asterisk_prompts, asterisk_prompts_in
from listenloop.bench.translation import DIRECTIONS, human_references, human_scores, prompts_for

FRENCH = Path("/usr/share/asterisk/sounds/fr")
INSTALLED = FRENCH.is_dir() and bool(asterisk_prompts(1)) and bool(asterisk_prompts_in("es", 1))
needs_prompts = pytest.mark.skipif(not INSTALLED, reason="the asterisk prompts are not installed: apt-get install "
                                   "asterisk-core-sounds-{en,fr,es}-wav asterisk-core-sounds-{en,fr,es}")


@needs_prompts
@pytest.mark.parametrize("direction", list(DIRECTIONS))
def test_every_prompt_of_a_40_prompt_bench_has_a_reference_in_the_target_language(direction):
    import opencc

    source, target, _ = DIRECTIONS[direction]
    utts = prompts_for(source, 40)
    refs = human_references(utts, direction)
    assert len(utts) == 40 and all(refs), [u.name for u, r in zip(utts, refs, strict=True) if not r]
    if target == "en":
        assert all(r.isascii() for r in refs)
    else:  # Chinese, in simplified characters
        assert all(any("\u4e00" <= c <= "\u9fff" for c in r) for r in refs)
        assert all(opencc.OpenCC("t2s").convert(r) == r for r in refs)


@needs_prompts
def test_a_reference_translates_the_prompt_it_is_named_for():
    utts = {u.name: u for u in asterisk_prompts_in("fr", 20)}
    assert utts["agent-loggedoff"].text == "Vous n'êtes plus en ligne."
    refs = human_references([utts["agent-loggedoff"]], "fr-en")
    assert refs == ["You are no longer logged in."]
    assert human_references([utts["agent-loggedoff"]], "es-en") == [None]  # another direction's prompts


def test_streamed_and_offline_are_both_scored_against_the_references_and_compared():
    refs = ["Agent logged off.", "Agent logged in.", None]
    offline = ["Agent logged off.", "Agent logged in.", "anything"]
    streamed = ["Agent logged off.", "", "unscored"]  # one empty: streaming lost it
    scores = human_scores(streamed, offline, refs, "en")
    assert scores.prompts == 2
    assert scores.offline_bleu > 99 and scores.stream_bleu < scores.offline_bleu
    assert 0 < scores.ratio < 0.95
    low, high = scores.ratio_interval  # prompts resampled: 0 when only the lost one is drawn, 1 when only the other
    assert 0 <= low <= scores.ratio <= high <= 1.0 and high - low > 0.5
    same = human_scores(offline[:2], offline[:2], refs[:2], "en")
    assert same.ratio == 1.0 and same.ratio_interval == (1.0, 1.0)
    assert human_scores(streamed, offline, [None, None, None], "en") is None
