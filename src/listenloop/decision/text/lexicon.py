"""English's cue words, read once from one data file (decision/lexicons/en.toml), so that a word is added in one
place whichever rule reads it: the utterance reader, the sentence joiner, barge-in, the name cues, and the learned
model's features (whose lists are kept apart: the shipped model was trained on them). Other languages: their own
files beside it, read by decision/multilingual.py.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class EnglishLexicon:
    wh_words: tuple[str, ...]  # a question opens with these
    aux_words: tuple[str, ...]  # ... or, asked as yes or no, with these
    request_openers: tuple[str, ...]  # a request opens with these (matched in order, as prefixes)
    command_verbs: frozenset[str]  # an imperative opening asks for something to be done
    dangling: frozenset[str]  # a finished sentence rarely ends on these
    interjections: frozenset[str]  # skipped before the words that make a question or a request
    fillers: frozenset[str]  # a piece of only these is no sentence
    filler_phrases: tuple[str, ...]  # ... nor of these phrases
    soundalikes: frozenset[str]  # tiny.en's writing of a dangling "to" before a pause
    backchannels: frozenset[str]  # listener feedback: does not interrupt an answer
    wake_words: tuple[str, ...]  # always the assistant
    greetings: tuple[str, ...]  # open a call by name
    not_names: frozenset[str]  # capitalized openers followed by a comma that are no names
    call_openers: tuple[str, ...]  # open a question after a name written without its comma
    sounds: dict[str, tuple[str, ...]]  # a spoken sound name -> the AudioSet classes that are it ("dog" -> Bark, ...)
    count_reports: dict[str, str]  # a counted sound's name -> how its report begins ("The dog barked")
    about_sound: tuple[str, ...]  # words and phrases that make a question about a sound heard
    about_music: tuple[str, ...]  # ... about the music
    about_count: tuple[str, ...]  # ... about a count
    model_sound_groups: tuple[tuple[str, tuple[str, ...]], ...]  # the model's sound groups: AudioSet keywords
    model_question_words: frozenset[str]  # the decision model's features: what it was trained on
    model_request_words: frozenset[str]
    model_fillers: frozenset[str]
    model_open_words: frozenset[str]


@functools.cache
def english() -> EnglishLexicon:
    data = tomllib.loads((resources.files("listenloop.decision.text") / "lexicons" / "en.toml").read_text("utf-8"))
    address, model = data.pop("address"), data.pop("model")
    sounds, reports, about = data.pop("sounds"), data.pop("count_reports"), data.pop("about")
    groups = model.pop("sound_groups")
    sets = {"command_verbs", "dangling", "interjections", "fillers", "soundalikes", "backchannels"}
    fields = {k: frozenset(v) if k in sets else tuple(v) for k, v in data.items()}
    return EnglishLexicon(
        **fields, wake_words=tuple(address["wake_words"]), greetings=tuple(address["greetings"]),
        not_names=frozenset(address["not_names"]), call_openers=tuple(address["openers"]),
        sounds={k: tuple(v) for k, v in sounds.items()}, count_reports=dict(reports),
        about_sound=tuple(about["sound"]), about_music=tuple(about["music"]), about_count=tuple(about["count"]),
        model_sound_groups=tuple((name, tuple(keys)) for name, keys in groups.items()),
        **{f"model_{k}": frozenset(v) for k, v in model.items()})


ENGLISH = english()
