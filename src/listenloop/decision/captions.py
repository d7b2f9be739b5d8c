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

from listenloop.decision.base import Decision
from listenloop.decision.holds import Hold, HoldKind, HoldQueue
from listenloop.decision.text import sentence
from listenloop.perception.observation import Confidence, SegmentEnd
from listenloop.vocabulary import Task

PAUSE_S = 0.15  # s of pause at which, as judge, the model may release the open segment's caption (closes at 0.25 s)
CAPTION_HOLD_MAX_S = 8.0  # s of speech held at most, then captioned without the model (a monologue must not wait)


def ride(holds: HoldQueue, ended: SegmentEnd) -> None:
    """A closed segment with no partial text ("Ask", "not": it may be a cough) joins the next caption (a RIDER hold);
    riders older than CAPTION_HOLD_MAX_S before the newest are let go (their transcript events were emitted all the
    same)."""
    riders = [r for r in holds.pieces(HoldKind.RIDER) if r.t1 >= ended.t1 - CAPTION_HOLD_MAX_S]
    holds.put(Hold(HoldKind.RIDER, ended.t1, pieces=[*riders, ended]))


def with_riders(holds: HoldQueue, caption: Decision) -> Decision:
    """A caption with the riders waiting before it (as `before` pieces, in order)."""
    riders = holds.take(HoldKind.RIDER)
    if riders is None:
        return caption
    before = sorted([*riders.pieces, *caption.payload.get("before", ())], key=lambda p: p.segment)
    return Decision.respond(caption.task, caption.reason, **{**caption.payload, "before": before})


def riders_at_end(holds: HoldQueue) -> Decision | None:
    """At the end of the stream, riders left with no caption to join go out as one of their own (a cough's final
    text is empty, and the responder then says nothing); None if there are none."""
    riders = holds.take(HoldKind.RIDER)
    if riders is None:
        return None
    numbers = ", ".join(str(p.segment) for p in riders.pieces)
    return Decision.respond(Task.TRANSCRIBE, f"segments {numbers}: end of stream", segment=riders.pieces[-1],
                            before=riders.pieces[:-1])


def hold(holds: HoldQueue, ended: SegmentEnd, t: float, captioned_at_pause: int = -1) -> None:
    """A closed segment's caption waits for the clock (a CAPTION hold), joined to the pieces held before it; not one
    captioned at its pause already (`captioned_at_pause`)."""
    if ended.segment == captioned_at_pause:
        return
    holds.put(Hold(HoldKind.CAPTION, t, pieces=[*holds.pieces(HoldKind.CAPTION), ended]))


def ends_open(holds: HoldQueue) -> bool:
    """The last held piece reads as a sentence that goes on ("How do I convert fifty degrees Fahrenheit to", in its
    final text when that is in), or may (its partial was unsure and the final is not in): as judge, the model does
    not release it alone; the next piece joins it, or the final text settles it."""
    pieces = holds.pieces(HoldKind.CAPTION)
    if not pieces:
        return False
    last = pieces[-1]
    if last.final.done():
        return sentence.goes_on(last.settled_text())
    return sentence.goes_on(last.last_partial) or sentence.may_go_on(last.last_partial, last.last_confidence)


def release(holds: HoldQueue, t: float, ready: bool, speaking: bool, wait_max_s: float,
            end_of_stream: bool = False, hold_max_s: float = CAPTION_HOLD_MAX_S) -> Decision | None:
    """The held captions as one response when they are due: the model says so while nobody speaks, nobody has spoken
    for `wait_max_s` since the last piece, the pieces span `hold_max_s`, or the stream ends; else None."""
    held = holds.get(HoldKind.CAPTION)
    if held is None:
        return None
    pieces = held.pieces
    why = ("the decision model" if ready and not speaking
           else f"{wait_max_s:.1f} s without more speech" if not speaking and t - held.since >= wait_max_s - 1e-6
           else "held speech reached its limit" if pieces[-1].t1 - pieces[0].t0 >= hold_max_s
           else "end of stream" if end_of_stream else "")
    if not why:
        return None
    holds.drop(held)
    numbers = ", ".join(str(p.segment) for p in pieces)
    return Decision.respond(Task.TRANSCRIBE, f"segments {numbers}: {why}", segment=pieces[-1], before=pieces[:-1])


def release_at_pause(holds: HoldQueue, segment: int, text: str, confidence: Confidence,
                     captioned_at_pause: int = -1) -> Decision | None:
    """The open segment's caption at a pause the model says ends it, with the held pieces before it; None if its
    text so far (tiny.en's, of this `confidence`) reads as a sentence that goes on, or may (sentence.may_go_on), is
    empty, or this segment was captioned at its pause already (`captioned_at_pause`). The response names the open
    segment (`open_segment`, its text so far in `segment_text`): its final text is not in yet."""
    if segment == captioned_at_pause or not text.strip() or sentence.goes_on(text) \
            or sentence.may_go_on(text, confidence):
        return None
    held = holds.take(HoldKind.CAPTION)
    pieces = [] if held is None else held.pieces
    numbers = ", ".join(str(n) for n in [*(p.segment for p in pieces), segment])
    return Decision.respond(Task.TRANSCRIBE, f"segments {numbers}: the decision model, at the pause",
                            open_segment=segment, segment_text=text, before=pieces)
