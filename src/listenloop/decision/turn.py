"""The turn as the conversation's rules see it: the open segment's text, the segments decided on, and a sentence
left open at a pause that the next piece joins (decision/sentence.py).

The learned model's features keep their own view of the sentence (decision/features.py, `JOIN_GAP_S`): it is what
the shipped model was trained on, so it changes only with a retrain.
"""

from __future__ import annotations

import collections
import dataclasses
from dataclasses import dataclass, field

from listenloop.decision import sentence
from listenloop.perception.observation import Confidence, Observation, SegmentEnd

CARRY_S = 3.0  # s; an unfinished sentence is joined to speech that resumes within this long (a pause mid-sentence)
DECIDED_KEEP = 16  # recent segment numbers remembered as decided (bounded)


@dataclass
class TurnState:
    texts: dict[int, str] = field(default_factory=dict)  # segment -> latest partial text (open segments only)
    confidence: Confidence = Confidence()  # of the open segment's latest partial text (tiny.en's)
    lang: str | None = None  # language of the open segment's latest partial text (ISO 639-1)
    segment: int | None = None  # the segment being spoken
    seg_t0: float = 0.0  # s, its start
    decided: collections.deque = field(default_factory=lambda: collections.deque(maxlen=DECIDED_KEEP))
    carry: sentence.Unfinished | None = None  # a sentence still open at a pause, joined to the speech that resumes
    taken_back: tuple[str, ...] = ()  # the words of the last sentence whose answer was taken back (kept open)

    def reset(self) -> None:
        self.texts.clear()
        self.decided.clear()
        self.carry, self.segment, self.lang, self.seg_t0 = None, None, None, 0.0
        self.confidence = Confidence()
        self.taken_back = ()

    def undecide(self, segment: int) -> None:
        """The segment is open to judgement again (its answer was dropped or taken back)."""
        if segment in self.decided:
            self.decided.remove(segment)


def hear(turn: TurnState, obs: Observation) -> None:
    """The chunk's partial text (tiny.en's) becomes the open segment's."""
    partial = obs.asr.partial if obs.asr is not None else None
    if partial is not None:
        turn.segment, turn.seg_t0 = partial.segment, partial.t0
        turn.texts[partial.segment] = partial.text
        turn.confidence, turn.lang = partial.confidence, partial.lang


def carried_text(turn: TurnState, ended: SegmentEnd | None = None) -> str:
    """The unfinished sentence the current segment goes on with ("" when none, or the speaker resumed too late).
    When that segment (`ended`) is itself the last piece kept, what came before it."""
    carry = turn.carry
    if carry is None:
        return ""
    if ended is not None and carry.segment == ended.segment:
        return carry.head
    return carry.text if turn.seg_t0 - carry.t1 <= CARRY_S else ""


def settle(turn: TurnState, ended: SegmentEnd) -> None:
    """A closed segment's final text is in: an unfinished sentence kept from it reads the final, not tiny.en (not
    one a filler after it kept open: "When does the next bus turn? | Let me see. | Airport leave")."""
    final = ended.settled_text()
    if final and turn.carry is not None and turn.carry.segment == ended.segment:
        turn.carry = dataclasses.replace(turn.carry, piece=final)


def keep_open(turn: TurnState, ended: SegmentEnd, text: str) -> None:
    """A segment not answered whose text (`text`) leaves its sentence open is kept for the next piece."""
    if ended.segment not in turn.decided:
        head = carried_text(turn, ended)
        if sentence.still_open(head, text):
            turn.carry = sentence.Unfinished(head, text, ended.t1, ended.segment)


def close(turn: TurnState, ended: SegmentEnd, text: str) -> None:
    """After a segment: keep a sentence it leaves open for the next one (a filler keeps the one before open)."""
    if sentence.is_filler(text):
        if turn.carry is not None:
            turn.carry = dataclasses.replace(turn.carry, t1=ended.t1)
    else:
        keep_open(turn, ended, text)
    turn.segment = None
