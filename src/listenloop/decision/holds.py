"""What a stream's decision holds back: one queue, one row per wait.

A response often cannot go out the moment it is proposed: an answer waits for the learned clock, a caption for the
end of its sentence, a translation piece for its continuation, a question about the music for enough music. A
segment judged on tiny.en's partial waits for its final text to be judged again, and an answer given on a partial
waits for that final text too, to be taken back if the sentence goes on. Each of these is one `Hold` in the stream's
`HoldQueue`. What a hold waits for, its bound and what happens when the speaker resumes belong to its `HoldKind`
(`KINDS`, one row each); the rule that releases it is one function per kind in decision/release.py. A new kind of
wait is a new member here and its rule there, not a new field of the conversation's state.

Each chunk the queue is passed once, in phases: holds on what was said (`Phase.HEARD`: is the sentence over?) before
the chunk's speech is judged, since they reopen or close the sentence it joins; a segment to judge again with the
speech (`Phase.SPEECH`); holds on when to speak (`Phase.DUE`) after the chunk's proposals, so that a piece proposed
now can join them. The arbiter (decision/arbiter.py) then picks one decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from listenloop.decision.base import Decision
from listenloop.perception.observation import SegmentEnd


class HoldKind(StrEnum):
    ANSWER = "answer"  # an answer the rules want, waiting for the learned clock
    SOUND = "sound"  # a non-urgent sound response (a doorbell, a cough), waiting for the learned clock
    CAPTION = "caption"  # closed segments' captions waiting for the clock; the pieces of one sentence join
    RIDER = "rider"  # closed segments too short for any partial, riding with the next caption
    TRANSLATION = "translation"  # pieces waiting for their continuation, or for the model to confirm them
    REJUDGE = "rejudge"  # a closed segment judged on its partial (tiny.en), judged again on its final text
    UNSAID = "unsaid"  # an answer decided on a partial, taken back if its final text shows the sentence goes on
    MUSIC = "music"  # a question about the music, waiting until enough of it was heard
    CALL = "call"  # a call to the assistant alone ("Hello, Pascal."), answered if nothing follows it


class Phase(StrEnum):
    HEARD = "heard"  # released before the chunk's speech is judged (it changes the sentence that speech joins)
    SPEECH = "speech"  # released as the chunk's speech: judged like a segment that closes now
    DUE = "due"  # released after the chunk's proposals


class OnSpeech(StrEnum):
    """What happens to a hold when the speaker goes on before it is released."""

    KEEP = "keep"  # nothing: it is released by its rule alone
    DROP = "drop"  # it is dropped, and the longer sentence is judged again
    JOIN = "join"  # the next piece joins it, and they go out as one response


@dataclass(frozen=True)
class KindRow:
    waits_for: str
    bound: str  # the constant that bounds the wait (with its module)
    on_speech: OnSpeech
    phase: Phase
    single: bool = True  # at most one hold of the kind per stream: a new one replaces it


KINDS: dict[HoldKind, KindRow] = {
    HoldKind.ANSWER: KindRow("the model's yes", "timing.DEFER_MAX_S (clock); none as judge", OnSpeech.DROP,
                             Phase.HEARD),
    HoldKind.UNSAID: KindRow("the question's final text", "conversation_state.FINAL_WAIT_S", OnSpeech.KEEP,
                             Phase.HEARD, single=False),
    HoldKind.REJUDGE: KindRow("the segment's final text and a pause", "none: the final always comes",
                              OnSpeech.DROP, Phase.SPEECH),
    HoldKind.CAPTION: KindRow("the model's yes with nobody speaking", "timing.DEFER_MAX_S without speech, "
                              "captions.CAPTION_HOLD_MAX_S of speech", OnSpeech.JOIN, Phase.DUE),
    HoldKind.RIDER: KindRow("the next caption", "captions.CAPTION_HOLD_MAX_S; alone at the end of the stream",
                            OnSpeech.JOIN, Phase.DUE),
    HoldKind.SOUND: KindRow("the model's yes", "timing.DEFER_MAX_S", OnSpeech.KEEP, Phase.DUE),
    HoldKind.MUSIC: KindRow("music.MUSIC_LISTEN_S of music", "sound_tasks.PENDING_MAX_S", OnSpeech.KEEP, Phase.DUE),
    HoldKind.CALL: KindRow("what the caller says next", "release.CALL_WAIT_S without a segment; the end of the stream",
                           OnSpeech.DROP, Phase.DUE),
    HoldKind.TRANSLATION: KindRow("the next piece, or the model's yes", "conversation_state.HELD_MAX_S",
                                  OnSpeech.JOIN, Phase.DUE),
}


@dataclass
class Hold:
    """One response held back (or segments waiting to become one)."""

    kind: HoldKind
    since: float  # s, stream time it was held (for pieces: the last one)
    response: Decision | None = None  # the response it holds (None: pieces not yet made into one)
    pieces: list[SegmentEnd] = field(default_factory=list)  # the segments it holds, oldest first
    segment: int = -1  # the segment it is about (-1: none)
    heard: str = ""  # that segment's text when it was held (an answer held is dropped if the text grows)
    for_model: bool = False  # translation pieces wait for the model's yes (else for their continuation)

    @property
    def row(self) -> KindRow:
        return KINDS[self.kind]


@dataclass
class HoldQueue:
    """The holds of one stream, in the order they were held."""

    rows: list[Hold] = field(default_factory=list)

    def put(self, hold: Hold) -> Hold:
        """Hold it; a hold of a kind held once per stream replaces the one before."""
        if hold.row.single:
            self.rows = [h for h in self.rows if h.kind is not hold.kind]
        self.rows.append(hold)
        return hold

    def get(self, kind: HoldKind) -> Hold | None:
        return next((h for h in self.rows if h.kind is kind), None)

    def all(self, kind: HoldKind) -> list[Hold]:
        return [h for h in self.rows if h.kind is kind]

    def take(self, kind: HoldKind) -> Hold | None:
        """The hold of this kind, removed from the queue (None if there is none)."""
        hold = self.get(kind)
        if hold is not None:
            self.rows.remove(hold)
        return hold

    def drop(self, hold: Hold) -> None:
        if hold in self.rows:
            self.rows.remove(hold)

    def pieces(self, kind: HoldKind) -> list[SegmentEnd]:
        hold = self.get(kind)
        return [] if hold is None else hold.pieces

    def reset(self) -> None:
        self.rows.clear()
