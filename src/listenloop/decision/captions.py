"""Transcription mode on the learned clock: a closed segment's caption waits for the decision model.

Without the clock, transcription mode responds to every closed segment, so a sentence broken by a pause ("I was
thinking... about the weekend") gets a response inside it. With it (`--decider clock` or `learned`), a segment's
caption is held until the model says a response is due; if the speaker goes on first, the next segment joins it and
the pieces go out as one response. The transcript events themselves (partial and final) are not held: a caption
display is not delayed.

As judge (`--decider learned`), the model may also release a caption at the pause, before the segment closes (0.25 s
of silence, perception/asr.py), as an answer is released (decision/conversation.py): the response then names the
open segment, and the responder waits for its final text (respond/transcribe.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from listenloop.decision import sentence
from listenloop.decision.base import Decision
from listenloop.perception.observation import Confidence, SegmentEnd
from listenloop.vocabulary import Task

PAUSE_S = 0.15  # s of pause at which, as judge, the model may release the open segment's caption (closes at 0.25 s)
CAPTION_HOLD_MAX_S = 8.0  # s of speech held at most, then captioned without the model (a monologue must not wait)


@dataclass
class CaptionHold:
    """Segments whose caption is waiting for the clock, and when the last of them closed."""

    pieces: list[SegmentEnd] = field(default_factory=list)
    since: float = 0.0  # s, stream time the last piece closed
    at_pause: int = -1  # the segment whose caption went out at its pause, while open: its close adds nothing
    riders: list[SegmentEnd] = field(default_factory=list)  # closed segments too short for any partial text ("Ask",
    # "not"): their final text goes with the next caption, and makes one alone only at the end of the stream (it may
    # be a cough)

    def reset(self) -> None:
        self.pieces.clear()
        self.riders.clear()
        self.at_pause = -1


def ride(state: CaptionHold, ended: SegmentEnd) -> None:
    """A closed segment with no partial text joins the next caption; riders older than CAPTION_HOLD_MAX_S before
    the newest are let go (their transcript events were emitted all the same)."""
    state.riders = [r for r in state.riders if r.t1 >= ended.t1 - CAPTION_HOLD_MAX_S] + [ended]


def with_riders(state: CaptionHold, caption: Decision) -> Decision:
    """A caption with the riders waiting before it (as `before` pieces, in order)."""
    if not state.riders:
        return caption
    riders, state.riders = state.riders, []
    before = sorted([*riders, *caption.payload.get("before", ())], key=lambda p: p.segment)
    return Decision.respond(caption.task, caption.reason, **{**caption.payload, "before": before})


def riders_at_end(state: CaptionHold) -> Decision | None:
    """At the end of the stream, riders left with no caption to join go out as one of their own (a cough's final
    text is empty, and the responder then says nothing); None if there are none."""
    if not state.riders:
        return None
    riders, state.riders = state.riders, []
    numbers = ", ".join(str(p.segment) for p in riders)
    return Decision.respond(Task.TRANSCRIBE, f"segments {numbers}: end of stream", segment=riders[-1],
                            before=riders[:-1])


def hold(state: CaptionHold, ended: SegmentEnd, t: float) -> None:
    if ended.segment == state.at_pause:
        return  # captioned at its pause already
    state.pieces.append(ended)
    state.since = t


def ends_open(state: CaptionHold) -> bool:
    """The last held piece reads as a sentence that goes on ("How do I convert fifty degrees Fahrenheit to", in its
    final text when that is in), or may (its partial was unsure and the final is not in): as judge, the model does
    not release it alone; the next piece joins it, or the final text settles it."""
    if not state.pieces:
        return False
    last = state.pieces[-1]
    if last.final.done():
        return sentence.goes_on(last.settled_text())
    return sentence.goes_on(last.last_partial) or sentence.may_go_on(last.last_partial, last.last_confidence)


def release(state: CaptionHold, t: float, ready: bool, speaking: bool, wait_max_s: float,
            end_of_stream: bool = False, hold_max_s: float = CAPTION_HOLD_MAX_S) -> Decision | None:
    """The held captions as one response when they are due: the model says so while nobody speaks, nobody has spoken
    for `wait_max_s` since the last piece, the pieces span `hold_max_s`, or the stream ends; else None."""
    if not state.pieces:
        return None
    why = ("the decision model" if ready and not speaking
           else f"{wait_max_s:.1f} s without more speech" if not speaking and t - state.since >= wait_max_s - 1e-6
           else "held speech reached its limit" if state.pieces[-1].t1 - state.pieces[0].t0 >= hold_max_s
           else "end of stream" if end_of_stream else "")
    if not why:
        return None
    pieces, state.pieces = state.pieces, []
    numbers = ", ".join(str(p.segment) for p in pieces)
    return Decision.respond(Task.TRANSCRIBE, f"segments {numbers}: {why}", segment=pieces[-1], before=pieces[:-1])


def release_at_pause(state: CaptionHold, segment: int, text: str, confidence: Confidence) -> Decision | None:
    """The open segment's caption at a pause the model says ends it, with the held pieces before it; None if its
    text so far (tiny.en's, of this `confidence`) reads as a sentence that goes on, or may (sentence.may_go_on), is
    empty, or this segment was captioned already. The response names the open segment (`open_segment`, its text so
    far in `segment_text`): its final text is not in yet."""
    if segment == state.at_pause or not text.strip() or sentence.goes_on(text) \
            or sentence.may_go_on(text, confidence):
        return None
    pieces, state.pieces, state.at_pause = state.pieces, [], segment
    numbers = ", ".join(str(n) for n in [*(p.segment for p in pieces), segment])
    return Decision.respond(Task.TRANSCRIBE, f"segments {numbers}: the decision model, at the pause",
                            open_segment=segment, segment_text=text, before=pieces)
