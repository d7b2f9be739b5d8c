"""What the sentences of built streams (data/sentences.py) are split by and broken at, and what each kind of sound
deserves.

Sentences are split into a training and a held-out half by a stable hash (`split_of`), so the held-out streams of
the benchmark use sentences the model never heard.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from listenloop.vocabulary import Emotion, Task

FILLERS = ("um", "uh", "er", "hmm", "you know", "let me see", "like", "I mean", "well")

# Words after which a sentence cannot be over: a pause right after one is a hesitation, not an end.
OPEN_WORDS = frozenset(
    "the a an to about and of for my is with in on at that because but or your his her their this "
    "what how when where which if so some was were are".split()
)


@dataclass(frozen=True)
class SoundRule:
    """How a class of sound files is treated: the keywords of its file names and the response it deserves."""

    keywords: tuple[str, ...]  # a word of the file stem that starts with any of these selects the rule
    label: str  # the class name written in the manifest ("dog")
    task: Task | None  # the response due when it ends, None for sounds to ignore
    emotion: Emotion = Emotion.NORMAL
    reply: str = ""  # the expected reply text


# The same answers as the shipped sound policy (decision/sounds/default_policy.toml), so the learned model and the
# rules learn and follow one definition: a car horn (traffic) and thunder get none; a baby crying is urgent.
SOUND_RULES = (
    SoundRule(("alarm", "siren", "smoke"), "alarm", Task.ALERT, Emotion.URGENT, "I hear an alarm."),
    SoundRule(("glass", "shatter", "break"), "breaking glass", Task.ALERT, Emotion.URGENT, "Something broke."),
    SoundRule(("gunshot", "explosion"), "gunshots", Task.ALERT, Emotion.URGENT, "That sounded like gunshots."),
    SoundRule(("scream", "shout"), "scream", Task.ALERT, Emotion.URGENT, "Someone screamed. Are you all right?"),
    SoundRule(("cough", "chok", "sneez"), "cough", Task.ASK, Emotion.CONCERNED, "Are you all right?"),
    SoundRule(("baby", "cry"), "baby crying", Task.ALERT, Emotion.URGENT, "The baby is crying."),
    SoundRule(("dog", "bark"), "dog", Task.NOTIFY, Emotion.NORMAL, "A dog is barking."),
    SoundRule(("doorbell", "knock", "bell"), "doorbell", Task.NOTIFY, Emotion.NORMAL, "Someone is at the door."),
    SoundRule(("phone", "telephone", "ring"), "telephone", Task.NOTIFY, Emotion.NORMAL, "Your phone is ringing."),
)
IGNORED_SOUND = "background"  # label of sound files no rule claims: music, rain, typing, engines, birds...


def sound_rule(stem: str) -> SoundRule | None:
    """The rule for a sound file (by the words of its name: "smoke_alarm", "dog-barking"), None when the sound
    deserves no response. Words, not substrings: "snoring" and "crowd_cheering" hold "ring" and are no telephone."""
    words = re.findall(r"[a-z]+", stem.lower())
    for rule in SOUND_RULES:
        if any(w.startswith(k) for w in words for k in rule.keywords):
            return rule
    return None


def split_of(text: str, test_fraction: float = 0.2) -> str:
    """'train' or 'test' for a sentence, stable across runs and machines (md5 of the text)."""
    h = int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test_fraction else "train"


def in_split(items: tuple, split: str, key=lambda x: x) -> tuple:
    """The items of one split ('train', 'test' or 'all')."""
    if split == "all":
        return items
    chosen = tuple(x for x in items if split_of(key(x)) == split)
    return chosen or items  # a tiny list never leaves a split empty


def hesitation_cuts(words: list[str]) -> list[int]:
    """Word positions after which a pause leaves the sentence audibly unfinished (after an open word)."""
    return [i + 1 for i, w in enumerate(words[:-1]) if w.lower().strip(",.?!") in OPEN_WORDS and i >= 1]
