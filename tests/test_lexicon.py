"""English's cue words come from one data file (decision/lexicons/en.toml, decision/lexicon.py)."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from importlib import resources

from listenloop.decision import voice
from listenloop.decision.model import features
from listenloop.decision.text import address, instructions, sentence, utterance
from listenloop.decision.text.lexicon import ENGLISH


def test_every_list_is_clean_lowercase_and_without_repeats():
    raw = tomllib.loads((resources.files("listenloop.decision.text") / "lexicons" / "en.toml").read_text("utf-8"))
    lists = [v for v in raw.values() if isinstance(v, list)]
    lists += [v for table in ("address", "model", "about") for v in raw[table].values() if isinstance(v, list)]
    assert len(lists) + len(("sounds", "count_reports", "sound_groups")) == len(fields(ENGLISH))  # all read, no more
    for words in [*lists, *raw["model"]["sound_groups"].values()]:
        assert words and len(set(words)) == len(words)
        assert all(w == w.strip().lower() and w for w in words), words
    assert all(classes for classes in raw["sounds"].values())  # AudioSet display names keep their capitals
    assert set(raw["count_reports"]) <= set(raw["sounds"])  # a count report for a sound one can ask to count


def test_the_rules_and_the_features_read_the_file():
    assert utterance.DANGLING is ENGLISH.dangling and sentence.FILLER_WORDS is ENGLISH.fillers
    assert voice.BACKCHANNEL is ENGLISH.backchannels and address.ENGLISH.not_names is ENGLISH.not_names
    assert features.OPEN_WORDS is ENGLISH.model_open_words and instructions.SOUND_WORDS is ENGLISH.sounds
    assert instructions.parse("count the dog barks").labels == ENGLISH.sounds["dog"]
    assert utterance.analyse("What was that noise?").about is utterance.About.SOUND
    # the sentence rules hear what the file says: a piece of only its fillers is no sentence, a word outside is
    assert sentence.is_filler("Um, you know, well...") and not sentence.is_filler("Um, the bus")
    assert utterance.analyse("Could you tell me the time").kind is utterance.Kind.QUESTION
