"""Spoken instructions: text ("translate everything into Chinese", "be quiet") to a typed change of the task.

The task state stays in force until another instruction changes it. Instructions come from final or partial
text of a spoken segment, from --instruction, or from `session.instruct(text)`; all go through `parse()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from listenloop.decision.text import multilingual
from listenloop.decision.text.lexicon import ENGLISH
from listenloop.vocabulary import Mode

# Spoken language name -> ISO 639-1 code (Whisper's codes). English is the source language of the assistant.
LANGUAGES = {
    "english": "en", "chinese": "zh", "mandarin": "zh", "spanish": "es", "french": "fr", "german": "de",
    "japanese": "ja", "korean": "ko", "italian": "it", "portuguese": "pt", "russian": "ru", "arabic": "ar",
    "hindi": "hi", "dutch": "nl", "polish": "pl", "turkish": "tr", "vietnamese": "vi", "swedish": "sv",
    "greek": "el", "hebrew": "he", "indonesian": "id", "thai": "th", "ukrainian": "uk", "czech": "cs",
}
LANGUAGE_NAMES = {code: name.capitalize() for name, code in reversed(LANGUAGES.items())}

SOUND_WORDS = ENGLISH.sounds  # spoken sound names -> the AudioSet classes that count as one occurrence of it


class InstructionError(ValueError):
    """--instruction or a control instruction that is not one listenloop understands."""


class Kind(StrEnum):
    TRANSLATE = "translate"  # translate into `language`
    STOP_TRANSLATING = "stop_translating"  # back to the assistant
    TRANSCRIBE = "transcribe"  # "just transcribe"
    ASSISTANT = "assistant"  # "stop transcribing", "back to normal"
    COUNT = "count"  # count occurrences of `sound`
    WATCH = "watch"  # "tell me when the baby cries"
    QUIET = "quiet"  # "be quiet": only urgent alerts
    RESUME = "resume"  # "you can talk again"


@dataclass(frozen=True)
class Instruction:
    kind: Kind
    text: str  # the words it was parsed from
    language: str | None = None  # TRANSLATE: ISO 639-1 target
    sound: str | None = None  # COUNT / WATCH: the spoken sound name ("dog")
    labels: tuple[str, ...] = ()  # COUNT / WATCH: AudioSet classes of that sound


@dataclass(frozen=True)
class TaskState:
    """What the session is doing now; immutable, replaced by `apply()`."""

    mode: Mode = Mode.ASSISTANT
    language: str | None = None  # translation target (ISO 639-1) in translate mode
    count_sound: str | None = None  # spoken name of the sound being counted
    count_labels: tuple[str, ...] = ()  # AudioSet classes counted
    watch_sound: str | None = None  # spoken name of the sound to announce
    watch_labels: tuple[str, ...] = ()  # AudioSet classes announced
    resume_mode: Mode = Mode.ASSISTANT  # the mode "you can talk again" returns to

    def detail(self) -> dict[str, object]:
        """The non-default parts, for the task event."""
        out: dict[str, object] = {}
        if self.language:
            out["language"] = self.language
        if self.count_sound:
            out["counting"] = self.count_sound
        if self.watch_sound:
            out["watching"] = self.watch_sound
        return out


@dataclass(frozen=True)
class TaskChange:
    """The task state changed at `t` (s, stream time), by `source`: "speech" | "option" | "control"."""

    t: float
    state: TaskState
    source: str
    instruction: Instruction | None = None


_WORD = r"[a-z']+"
_LANG = "|".join(sorted(LANGUAGES, key=len, reverse=True))
_SOUND = "|".join(sorted(SOUND_WORDS, key=len, reverse=True))
_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (Kind.STOP_TRANSLATING, re.compile(r"\b(stop|no more|don't|do not|quit) (translating|translation|translate)\b")),
    (Kind.QUIET, re.compile(r"\b(be quiet|stop talking|shut up|keep quiet|stay quiet|silence please|mute yourself"
                            r"|don't (talk|speak|say anything))\b")),
    (Kind.RESUME, re.compile(r"\b(you can (talk|speak) again|talk again|speak again|you may (talk|speak)"
                             r"|unmute|stop being quiet)\b")),
    (Kind.ASSISTANT, re.compile(r"\b(stop transcribing|back to normal|normal mode|assistant mode|stop counting"
                                r"|stop watching)\b")),
    # "transcribe the speech into Chinese" asks for a translation (the reference demo's users said it so)
    (Kind.TRANSLATE, re.compile(rf"\b(transcrib\w*|caption\w*)\b(\s+{_WORD}){{0,6}}?\s+(?:into|in) ({_LANG})\b"
                                r"(never)?")),
    (Kind.TRANSCRIBE, re.compile(r"\b(just |only )?(transcribe|write down|caption)( everything| what i say"
                                 r"| all| the audio| speech)?\b")),
    (Kind.COUNT, re.compile(rf"\bcount\b.*?\b({_SOUND})s?\b")),
    (Kind.WATCH, re.compile(rf"\b(tell|let|alert|warn|notify) (me|us)\b.*?\b(when|if)\b.*?\b({_SOUND})")),
    (Kind.TRANSLATE, re.compile(rf"\b(translat\w*|interpret\w*|output|convert\w*|switch\w*|respond|reply|speak"
                                rf"|say|write|give)\b(\s+{_WORD}){{0,6}}?\s+({_LANG})\b"
                                rf"|\b({_LANG}) (translation|output|language|subtitles)\b")),
)


# Words that may stand between "translate" and the language when the order is about the speech to come ("translate
# everything I say into Spanish", "convert spoken language audio into Chinese"). Any other word makes it a one-off
# request to answer ("translate good evening into Spanish"), not a change of task.
_ONGOING_OBJECT = frozenset(
    "everything all of this what i we you they say said speak spoken language audio speech conversation talk the rest "
    "from now on my our words please for me us to into in".split())

_QUESTION_STARTS = ("how ", "what ", "why ", "when ", "where ", "who ", "which ", "do you ", "does ", "did ",
                    "is ", "are ", "was ", "were ")


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z' ]", " ", text.lower().replace("’", "'"))).strip()


def parse(text: str) -> Instruction | None:
    """The instruction in `text`, or None when it is not one (a question, a statement). Spoken in another language
    than English, it is read with that language's lexicon (decision/multilingual.py)."""
    spoken = multilingual.instruction(text, None)
    if spoken is not None:
        return Instruction(Kind(spoken[0]), text, language=spoken[1])
    words = normalize(text)
    if not words:
        return None
    for kind, pattern in _PATTERNS:
        match = pattern.search(words)
        if match is None:
            continue
        if kind is Kind.TRANSLATE:
            if words.startswith(_QUESTION_STARTS):
                continue  # "how do you say hello in Spanish?" asks for an answer, it changes no task
            verb = match.group(1) or ""
            ongoing = _ONGOING_OBJECT | ({"this"} if verb.startswith(("transcrib", "caption")) else set())
            if match.group(1) and not set(words[match.end(1):match.start(3)].split()) <= ongoing:
                continue  # "translate good evening into Spanish": one phrase, answered; the task stays
            name = next(g for g in (match.group(3), match.group(4)) if g)
            return Instruction(kind, text, language=LANGUAGES[name])
        if kind in (Kind.COUNT, Kind.WATCH):
            sound = match.group(match.lastindex or 1)
            return Instruction(kind, text, sound=sound, labels=SOUND_WORDS[sound])
        if kind is Kind.TRANSCRIBE and not _is_transcribe_order(words, match):
            continue
        return Instruction(kind, text)
    return None


def _is_transcribe_order(words: str, match: re.Match[str]) -> bool:
    """ "just transcribe" is an order; "how do you transcribe a word?" is a question about transcription."""
    return bool(match.group(1)) or words.startswith(("transcribe", "please transcribe", "can you transcribe",
                                                     "could you transcribe", "start transcribing", "caption"))


def apply(state: TaskState, instruction: Instruction) -> TaskState:
    """The task state after `instruction`."""
    kind = instruction.kind
    if kind is Kind.TRANSLATE:
        return replace(state, mode=Mode.TRANSLATE, language=instruction.language, resume_mode=Mode.TRANSLATE)
    if kind in (Kind.STOP_TRANSLATING, Kind.ASSISTANT):
        cleared = replace(state, mode=Mode.ASSISTANT, language=None, resume_mode=Mode.ASSISTANT)
        if kind is Kind.ASSISTANT and "count" in normalize(instruction.text):
            cleared = replace(cleared, count_sound=None, count_labels=())
        return cleared
    if kind is Kind.TRANSCRIBE:
        return replace(state, mode=Mode.TRANSCRIBE, language=None, resume_mode=Mode.TRANSCRIBE)
    if kind is Kind.COUNT:
        return replace(state, count_sound=instruction.sound, count_labels=instruction.labels)
    if kind is Kind.WATCH:
        return replace(state, watch_sound=instruction.sound, watch_labels=instruction.labels)
    if kind is Kind.QUIET:
        resume = state.mode if state.mode is not Mode.QUIET else state.resume_mode
        return replace(state, mode=Mode.QUIET, resume_mode=resume)
    if kind is Kind.RESUME:
        return replace(state, mode=state.resume_mode if state.mode is Mode.QUIET else state.mode)
    raise ValueError(f"unknown instruction kind {kind}")


def acknowledgement(instruction: Instruction, state: TaskState) -> str:
    """The short spoken confirmation of an instruction."""
    kind = instruction.kind
    if kind is Kind.TRANSLATE:
        return f"OK, translating into {LANGUAGE_NAMES.get(state.language or '', state.language)}."
    if kind is Kind.STOP_TRANSLATING:
        return "OK, no more translation."
    if kind is Kind.TRANSCRIBE:
        return "OK, transcribing."
    if kind is Kind.ASSISTANT:
        return "OK."
    if kind is Kind.COUNT:
        return f"OK, I'll count the {instruction.sound}."
    if kind is Kind.WATCH:
        return f"OK, I'll tell you when I hear the {instruction.sound}."
    if kind is Kind.QUIET:
        return "OK, I'll be quiet."
    return "I'm back."


def initial_state(mode: Mode, instruction: str | None = None) -> tuple[TaskState, Instruction | None]:
    """The task state a session starts with: its mode, then --instruction on top (an error if it is none)."""
    state = TaskState(mode=mode, resume_mode=mode if mode is not Mode.QUIET else Mode.ASSISTANT)
    if not instruction:
        return state, None
    parsed = parse(instruction)
    if parsed is None:
        raise InstructionError(f"--instruction {instruction!r} is not an instruction listenloop understands; "
                               "try 'translate into Spanish', 'just transcribe', 'count the dog barks', 'be quiet'")
    return apply(state, parsed), parsed
