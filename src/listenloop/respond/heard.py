"""Questions about what is heard ("what was that noise?", "describe what you can hear", "do you like this music?")
answered in a plain sentence from the session's recent sound events and music summary, not by the language model.

The 0.5B model, given tag names in its notes, answered with the tag names ("It sounds like jingle (music) or music for
children music, with bell and jingle bell."); a template turns the tags into words ("It sounds like a jingle or music
for children, with a bell."). Questions that only mention hearing ("did you hear what I said?") go to the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

RECENT_SOUNDS_S = 30.0  # s before a question whose sound events it may be about ("what was that noise?")
NAMED_SOUNDS = 3  # at most this many distinct sounds named in one sentence

ABOUT_LAST = re.compile(r"\bwhat (was|is) that\b|\bwhat (noise|sound) (was|is) (that|this)\b|\bwhat made that\b")
ABOUT_ALL = re.compile(r"\bwhat (do|can|did) you hear\b|\bdescribe what you\b|\bwhat are you hearing\b"
                       r"|\bwhat (sounds|noises) (do|can|did)\b|\bwhat's (going on|happening) around\b")
OPINION = re.compile(r"\b(do|did|would) you (like|enjoy|love|hate)\b|\bwhat do you think (of|about)\b")
MUSIC_QUESTION = re.compile(r"\b(music|song|style|genre|instrument|instruments|melody|tune|band)\b")

# AudioSet names that read badly in a sentence, as a person would say them.
SPOKEN_NAMES = {"Speech": "someone talking", "Music": "music", "Bark": "a dog barking", "Dog": "a dog",
                "Cat": "a cat", "Meow": "a cat meowing", "Laughter": "laughter", "Applause": "applause",
                "Silence": "", "Inside, small room": "", "Inside, large room or hall": "",
                "Outside, urban or manmade": ""}
MASS_NOUNS = frozenset({"music", "laughter", "applause", "rain", "wind", "water", "traffic", "noise", "static",
                        "speech", "singing", "percussion", "white noise", "pink noise", "hubbub", "chatter"})


def spoken_name(label: str, article: bool = True) -> str:
    """An AudioSet class name as words: "Vehicle horn, car horn, honking" -> "a vehicle horn"; "" for no sound."""
    if label in SPOKEN_NAMES:
        return SPOKEN_NAMES[label]
    name = re.sub(r"\s*\(.*?\)", "", label.split(",")[0]).strip().lower()
    if not article or not name or name in MASS_NOUNS or name.endswith("ing") or "music" in name.split():
        return name
    return ("an " if name[0] in "aeiou" else "a ") + name


def joined(names: Iterable[str]) -> str:
    items = [n for n in dict.fromkeys(names) if n]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def music_words(music: dict) -> str:
    """The music summary (decision/music.py) as words: "a jingle or music for children, with a bell"."""
    genres = [spoken_name(g, article=True) for g in music.get("genres", [])]
    instruments = [spoken_name(i) for i in music.get("instruments", [])]
    style = " or ".join(g for g in genres if g) or "instrumental music"
    with_ = joined(instruments)
    return style + (f", with {with_}" if with_ else "")


def recent_sounds(memory, t: float) -> list[str]:
    """The distinct sounds whose onsets were heard in the RECENT_SOUNDS_S before `t`, latest last, as words."""
    events = [s for s in list(getattr(memory, "sounds", ())) if s.state == "start" and t - RECENT_SOUNDS_S <= s.t0 <= t]
    names = [spoken_name(s.label) for s in events]
    return list(dict.fromkeys(n for n in names if n))


def heard_answer(question: str, payload: dict, memory, t: float) -> str:
    """A plain sentence answering a question about what is heard, or "" when the question is for the model."""
    q = question.lower()
    music = payload.get("music") or {}
    has_music = bool(music.get("genres") or music.get("instruments"))
    if payload.get("about") == "music" or (MUSIC_QUESTION.search(q) and has_music):
        if not has_music:
            return "I don't hear any music clearly enough to tell its style."
        if OPINION.search(q):
            return f"I don't have tastes of my own, but it sounds like {music_words(music)}."
        return f"It sounds like {music_words(music)}."
    about_last, about_all = ABOUT_LAST.search(q), ABOUT_ALL.search(q)
    if not (about_last or about_all):
        return ""
    sounds = [s for s in recent_sounds(memory, t) if s != "someone talking"]
    if has_music:
        sounds.append(music_words(music))
    if not sounds:
        return ("I didn't catch any distinct sound, only voices." if about_last
                else "Nothing in particular apart from voices; it's fairly quiet here.")
    if about_last:
        return f"That sounded like {sounds[-1]}."
    return f"I can hear {joined(sounds[-NAMED_SOUNDS:])}."
