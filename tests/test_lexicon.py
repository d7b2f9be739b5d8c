"""English's cue words come from one data file (decision/lexicons/en.toml, decision/lexicon.py)."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from importlib import resources

from listenloop.decision import address, features, sentence, utterance, voice
from listenloop.decision.lexicon import ENGLISH


def test_every_list_is_clean_lowercase_and_without_repeats():
    raw = tomllib.loads((resources.files("listenloop.decision") / "lexicons" / "en.toml").read_text("utf-8"))
    lists = [v for v in raw.values() if isinstance(v, list)]
    lists += [v for table in ("address", "model") for v in raw[table].values()]
    assert len(lists) == len(fields(ENGLISH))  # every list in the file is read, and nothing else
    for words in lists:
        assert words and len(set(words)) == len(words)
        assert all(w == w.strip().lower() and w for w in words), words


def test_the_rules_and_the_features_read_the_file():
    assert utterance.DANGLING is ENGLISH.dangling and sentence.FILLER_WORDS is ENGLISH.fillers
    assert voice.BACKCHANNEL is ENGLISH.backchannels and address.ENGLISH.not_names is ENGLISH.not_names
    assert features.OPEN_WORDS is ENGLISH.model_open_words
    # the sentence rules hear what the file says: a piece of only its fillers is no sentence, a word outside is
    assert sentence.is_filler("Um, you know, well...") and not sentence.is_filler("Um, the bus")
    assert utterance.analyse("Could you tell me the time").kind is utterance.Kind.QUESTION
