"""A sentence broken by pauses, put back together from its pieces (what the rules judge and the model reads).

The recognizer closes a segment at every pause, so "How do you say thank you in... you know... Japanese?" reaches
the policy as three segments: "How do you say thank you in?", "You know." and "Japanese?". Whisper punctuates each
piece as if it were whole. Here a piece that leaves its sentence open is joined to what follows, its final
punctuation dropped, and a piece that is only a filler ("um", "you know", "let me see") is skipped: it neither ends
the sentence nor joins it.
"""

from __future__ import annotations

from dataclasses import dataclass

from listenloop.decision.text import multilingual
from listenloop.decision.text import utterance as utt
from listenloop.decision.text.address import is_call
from listenloop.decision.text.lexicon import ENGLISH
from listenloop.perception.observation import Confidence

FILLER_WORDS, FILLER_PHRASES = ENGLISH.fillers, ENGLISH.filler_phrases  # a piece of only these is no sentence
SOUNDALIKES = ENGLISH.soundalikes  # how tiny.en writes a dangling "to" before a pause: the partial waits for the final
UNSURE_NATS = 2.0  # nats: a partial whose last word's least likely token is this much below certain
# (Confidence.last_word) may end on tiny.en's guess at how the sentence goes on ("... during the night." for "...
# during the"): it waits for the final text too. inf: never
UNSURE_END_NATS = 1.5  # nats: ... or whose end (punctuation, end of text) is this much below certain


def is_filler(text: str, lang: str | None = None) -> bool:
    """The whole piece is fillers ("Um.", "You know.", "Let me see...", "Well, I mean"; "嗯。", "euh" in their
    language, decision/multilingual.py)."""
    lex = multilingual.lexicon_for(text, lang)
    if lex is not None:
        return multilingual.is_filler(text, lex)
    rest = " ".join(utt.words_of(text))
    if not rest:
        return False
    for phrase in FILLER_PHRASES:
        rest = rest.replace(phrase, " ")
    return all(w in FILLER_WORDS for w in rest.split())


def join(before: str, text: str) -> str:
    """An unfinished piece and the piece that goes on with it, as one sentence: the first piece's final punctuation
    ("Is it going to?") was the recognizer's guess at an end that was not one."""
    head = before.strip().rstrip(".?!。？！…").rstrip()
    if head.endswith(".."):
        head = head.rstrip(".")
    if head and is_call(head):
        head = head.rstrip(",") + ","  # "John | Did you call her?" is a question to John (decision/address.py)
    return f"{head}{multilingual.joiner(head, text.strip())}{text.strip()}".strip() if head else text.strip()


def goes_on(text: str, lang: str | None = None) -> bool:
    """The sentence so far stops where it cannot end ("... bus to the", "... going to?"): the next piece joins."""
    return utt.analyse(text, lang).kind is utt.Kind.INCOMPLETE


def open_end(text: str) -> bool:
    """The sentence so far goes on, or stops on a word a sentence rarely ends on whatever Whisper's punctuation says
    ("Should I bring in?", "How do you say thank you in?"): what the decision model reads as one sentence with the
    piece that follows."""
    words = utt.words_of(text)
    return goes_on(text) or bool(words) and words[-1] in utt.DANGLING


def soundalike_end(text: str) -> bool:
    """tiny.en's text ends on a word that may be a dangling "to" it misheard (SOUNDALIKES)."""
    words = utt.words_of(text)
    return bool(words) and words[-1] in SOUNDALIKES


def may_go_on(partial: str, confidence: Confidence) -> bool:
    """tiny.en's partial (of this `confidence`) may stop where its sentence goes on, though it does not read so: on
    a misheard dangling "to", on a last word it was unsure of, or where it doubted the sentence ends. What is said on
    it waits for the final text."""
    return soundalike_end(partial) or -confidence.last_word >= UNSURE_NATS or -confidence.ending >= UNSURE_END_NATS


def still_open(head: str, piece: str, lang: str | None = None) -> bool:
    """Whether the sentence `piece` goes on with (`head`, "" if none) is still open after it. Once the speaker has
    paused mid-sentence, a piece that stops on a dangling word ("... rain this.") does not end it either."""
    text = join(head, piece)
    return goes_on(text, lang) or bool(head) and open_end(text)


def head_before(question: str, piece: str) -> str:
    """What `question` (a sentence joined from pieces) holds before its last piece `piece`."""
    return question[: len(question) - len(piece)].strip()


def answered_too_soon(question: str, piece: str, final: str) -> bool:
    """An answer to `question`, whose last piece was read as `piece` (tiny.en's partial), came too soon: that
    piece's final text shows the sentence still going on ("How long does it take to fly from Paris?" read by tiny.en,
    "... from Paris to?" by Whisper base)."""
    if not final or final == piece or not piece or not question.endswith(piece):
        return False
    return still_open(head_before(question, piece), final)


@dataclass(frozen=True)
class Unfinished:
    """A sentence still open at a pause: what came before its last piece, the last piece, where that piece ended."""

    head: str  # the sentence before the last piece ("" when the piece began it)
    piece: str  # the last piece's text (its final text once that is in)
    t1: float  # s, stream time the last piece ended (or the speech before a pause did; a filler after it moves it)
    segment: int = -1  # the segment `piece` is the text of, whose final text replaces it (-1: none)

    @property
    def text(self) -> str:
        return join(self.head, self.piece)
