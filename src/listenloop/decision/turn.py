"""The turn: what is being said, tracked once per chunk for the rules and the learned model's features alike.

`hear()` takes each chunk's recognizer results once (whoever asks first: the conversation policy, or the feature
extractor when it runs alone): the current segment, its latest text (tiny.en's partial, the last partial at its
close, Whisper base's final once that is in), how sure the recognizer was, the piece before it (fillers skipped) and,
for the rules, the open segment's partial. Two readings of "the sentence so far" are kept on top of it, on purpose:
- the model's (`before`, `before_head`): pieces within JOIN_GAP_S whose sentence reads open, from the text alone, as
  the shipped model was trained (decision/features.py);
- the rules' (`carry`, `decided`, `taken_back`): a sentence left open and not yet answered, within CARRY_S, which
  knows what was answered or taken back (decision/conversation.py).
"""

from __future__ import annotations

import collections
import dataclasses
from concurrent.futures import Future
from dataclasses import dataclass, field

from listenloop.decision.text import sentence
from listenloop.perception.observation import Confidence, FinalText, Observation, SegmentEnd, spoken_final

CARRY_S = 3.0  # s; an unfinished sentence is joined to speech that resumes within this long (a pause mid-sentence)
DECIDED_KEEP = 16  # recent segment numbers remembered as decided (bounded)
JOIN_GAP_S = 2.0  # s; for the model, a segment that starts this soon after the previous one may continue its sentence


@dataclass
class TurnState:
    # the current segment (open, or the last closed), as the model reads it
    segment: int = -1  # its number (-1: none yet)
    segment_open: bool = False
    segment_t0: float = 0.0  # s, where it started
    segment_t1: float = 0.0  # s, where it ended (or the latest partial's end while it is open)
    partial_t1: float = 0.0  # s, end of the audio its latest partial covers
    text: str = ""  # its latest text: partial, last partial at its close, final once in
    stable: str = ""
    text_age: int = 0  # chunks since the text last changed
    from_final: bool = False  # `text` is the segment's final text (Whisper base), not tiny.en's partial
    confidence: Confidence = Confidence()  # how sure the recognizer was of `text`
    final: Future[FinalText] | None = None  # the last closed segment's final text, until it is in
    final_segment: int = -1  # ... that segment's number
    speech_t: float = 0.0  # s, last time voice activity was heard
    before: str = ""  # text of the segment before the current one (fillers skipped)
    before_segment: int = -1  # its number
    before_t1: float = -99.0  # s, where that segment (or a filler after it) ended
    before_head: str = ""  # the sentence that segment went on with, when it was left open (the model's reading)
    # the open segment as the rules read it (closed by the rules once they have judged it: `close`)
    texts: dict[int, str] = field(default_factory=dict)  # segment -> latest partial text (open segments only)
    partial_confidence: Confidence = Confidence()  # of the open segment's latest partial text (tiny.en's)
    lang: str | None = None  # language of the open segment's latest partial text (ISO 639-1)
    open_segment: int | None = None  # the segment being spoken
    seg_t0: float = 0.0  # s, its start
    # the rules' sentence: what was decided, what is carried across a pause
    decided: collections.deque = field(default_factory=lambda: collections.deque(maxlen=DECIDED_KEEP))
    carry: sentence.Unfinished | None = None  # a sentence still open at a pause, joined to the speech that resumes
    taken_back: tuple[str, ...] = ()  # the words of the last sentence whose answer was taken back (kept open)
    heard: Observation | None = field(default=None, repr=False)  # the last observation taken (once per chunk)

    def reset(self) -> None:
        fresh = TurnState()
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(fresh, f.name))

    def undecide(self, segment: int) -> None:
        """The segment is open to judgement again (its answer was dropped or taken back)."""
        if segment in self.decided:
            self.decided.remove(segment)


def hear(turn: TurnState, obs: Observation) -> None:
    """Take the chunk's voice activity and recognizer results, once per observation."""
    if turn.heard is obs:
        return
    turn.heard = obs
    asr, vad = obs.asr, obs.vad
    if vad is not None and (vad.speech or vad.ended_at is not None):
        turn.speech_t = obs.chunk.t1 if vad.speech else float(vad.ended_at)
    partial = asr.partial if asr is not None else None
    if partial is not None:
        _shift(turn, partial.segment, partial.t0)
        if partial.text != turn.text:
            turn.text_age = 0
        turn.text, turn.stable, turn.segment_open = partial.text, partial.stable, True
        turn.confidence = partial.confidence
        turn.partial_t1 = turn.segment_t1 = partial.t1
        turn.open_segment, turn.seg_t0 = partial.segment, partial.t0
        turn.texts[partial.segment] = partial.text
        turn.partial_confidence, turn.lang = partial.confidence, partial.lang
    else:
        turn.text_age += 1
    ended = asr.ended if asr is not None else None
    if ended is not None:
        _shift(turn, ended.segment, ended.t0)  # a segment too short for any partial
        turn.segment_open, turn.segment_t1 = False, ended.t1
        turn.text = ended.last_partial  # "" when it got no text: never an older segment's text
        turn.confidence = ended.last_confidence
        if not turn.text:
            turn.partial_t1 = ended.t0
        turn.final, turn.final_segment = ended.final, ended.segment
    _take_final(turn)


def sentence_before(turn: TurnState) -> str:
    """The model's reading of the sentence the current segment may go on with: the segment before, joined to any
    it went on from."""
    return sentence.join(turn.before_head, turn.before)


def _shift(turn: TurnState, segment: int, t0: float) -> None:
    """A new segment begins: the current one becomes the one before (a filler keeps the one before open)."""
    if segment == turn.segment:
        return
    if turn.segment >= 0 and sentence.is_filler(turn.text):
        turn.before_t1 = turn.segment_t1  # "you know": the sentence before stays open across it
    elif turn.segment >= 0:
        so_far = sentence_before(turn)
        kept = turn.segment_t0 - turn.before_t1 < JOIN_GAP_S and sentence.open_end(so_far)
        turn.before_head = so_far if kept else ""
        turn.before, turn.before_t1, turn.before_segment = turn.text, turn.segment_t1, turn.segment
    turn.segment, turn.segment_t0, turn.segment_t1 = segment, t0, t0
    turn.text, turn.stable, turn.partial_t1, turn.from_final = "", "", t0, False
    turn.confidence = Confidence()


def _take_final(turn: TurnState) -> None:
    """A closed segment's final text replaces its last partial once it is in."""
    if turn.final is None or not turn.final.done():
        return
    future, segment, turn.final = turn.final, turn.final_segment, None
    text = spoken_final(future)
    if not text:
        return
    if segment == turn.segment and not turn.segment_open:
        turn.text = turn.stable = text
        turn.text_age, turn.from_final, turn.confidence = 0, True, future.result().confidence
        turn.partial_t1 = turn.segment_t1  # the final covers the whole segment: no speech lacks text now
    elif segment == turn.before_segment:
        turn.before = text


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
    turn.open_segment = None
