"""The words every layer shares: what a session is for, what a response does, and how it is said.

This module sits at the bottom of the package (docs/architecture.md): audio, data, decision, respond, runtime and
the server all import these enums from here, so none of them has to reach into the decision for a name.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """What a session is for; spoken instructions and options change it."""

    ASSISTANT = "assistant"  # answer what is addressed to it, speak up for sounds, silent otherwise
    TRANSCRIBE = "transcribe"  # every final transcript is a response
    TRANSLATE = "translate"  # every final segment, translated, is a response
    QUIET = "quiet"  # "be quiet": only urgent alerts


class Task(StrEnum):
    """What a response does. The session's mode decides which tasks are responses."""

    TRANSCRIBE = "transcribe"  # the final transcript of a spoken segment
    TRANSLATE = "translate"  # the segment in the target language
    ANSWER = "answer"  # a reply to a question or request addressed to the assistant
    ALERT = "alert"  # an urgent sound (alarm, glass, scream)
    ASK = "ask"  # a concerned check-in (cough, choking)
    NOTIFY = "notify"  # a sound worth mentioning (doorbell, dog)
    DESCRIBE = "describe"  # say what is heard
    ACKNOWLEDGE = "acknowledge"  # short confirmation of a spoken instruction

    @property
    def answers_speech(self) -> bool:
        """A response to something said (not to a sound)."""
        return self in _SPEECH_TASKS

    @property
    def interruptible(self) -> bool:
        """The user's speech stops it (barge-in); captions, translations and alerts run to the end."""
        return self in _INTERRUPTIBLE_TASKS

    @property
    def sound(self) -> bool:
        """A response to a sound the policy heard."""
        return self in _SOUND_TASKS


_SPEECH_TASKS = frozenset({Task.ANSWER, Task.TRANSCRIBE, Task.TRANSLATE, Task.ACKNOWLEDGE})
_INTERRUPTIBLE_TASKS = frozenset({Task.ANSWER, Task.DESCRIBE, Task.ACKNOWLEDGE, Task.NOTIFY, Task.ASK})
_SOUND_TASKS = frozenset({Task.ALERT, Task.ASK, Task.NOTIFY})


class Emotion(StrEnum):
    """Emotion/urgency tag of a response (the reference system's labels plus `concerned`)."""

    NORMAL = "normal"
    HAPPY = "happy"
    SAD = "sad"
    ANGRY = "angry"
    SURPRISE = "surprise"
    CONCERNED = "concerned"
    URGENT = "urgent"
