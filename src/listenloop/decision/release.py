"""The rule that releases each kind of hold (decision/holds.py): the response that goes now, or None while it waits.

A rule that releases or drops its hold removes it from the queue. Holds on what was said (UNSAID, ANSWER) run before
the chunk's speech is judged; the others after the chunk's proposals (`holds.Phase`).
"""

from __future__ import annotations

from listenloop.decision import captions
from listenloop.decision.base import Decision
from listenloop.decision.conversation_state import (
    FINAL_WAIT_S,
    HELD_MAX_S,
    ConversationState,
    final_ends_sentence,
    take_back_if_too_soon,
    translation_decision,
    voiced,
)
from listenloop.decision.holds import Hold, HoldKind
from listenloop.decision.model.timing import LearnedTiming
from listenloop.decision.text import sentence
from listenloop.perception.observation import Observation, final_lang, spoken_final
from listenloop.vocabulary import Mode

CALL_WAIT_S = 2.0  # s after a call alone ("Hey Pascal.") with no new segment before it is answered by itself: a
# caller who pauses to think goes on within this (joined as one sentence, turn.CARRY_S); one who waits for a "yes?"


def _own_piece(hold: Hold, obs: Observation) -> None:
    """Keep the segment a hold on what was said is about, once it closes (its final text comes with it)."""
    ended = obs.asr.ended if obs.asr is not None else None
    if not hold.pieces and ended is not None and ended.segment == hold.segment:
        hold.pieces = [ended]


def unsaid(hold: Hold, obs: Observation, state: ConversationState) -> None:
    """An answer decided on tiny.en's text is taken back, before it is said, when its question's final text
    (Whisper base) shows the sentence goes on: "How long does it take to fly from Paris?" was "... Paris to?".
    The sentence is kept open for the next piece, as if it had not been answered."""
    _own_piece(hold, obs)
    expired = obs.chunk.t1 - hold.since > FINAL_WAIT_S + 1e-9  # the answer did not wait longer either
    if expired or hold.pieces and hold.pieces[0].final.done():
        state.holds.drop(hold)
        if not expired:
            take_back_if_too_soon(state, hold)


def held_answer(hold: Hold, obs: Observation, state: ConversationState, timing: LearnedTiming) -> Decision | None:
    """An answer held for the learned clock: given when the model says so (or after DEFER_MAX_S), dropped if the
    speaker goes on first (speech starts again, or the segment's text grows); the longer sentence is then judged
    again."""
    assert hold.response is not None and state.timing is not None
    answer, turn = hold.response, state.turn
    if obs.chunk.t1 <= hold.since:
        return None  # held in this very chunk, whose start may still hold the question's last word
    if relabelled(hold, obs, answer.payload.get("lang")):
        state.holds.drop(hold)  # the question was read in the wrong language: its final text is judged instead
        turn.undecide(hold.segment)
        return None
    grown = turn.texts.get(hold.segment, hold.heard) != hold.heard
    if voiced(obs) or grown or turn.open_segment not in (None, hold.segment):
        state.holds.drop(hold)
        turn.undecide(hold.segment)
        if not grown:  # a new segment goes on with it: judged together, as a sentence broken by a pause
            question = answer.payload["question"]
            own = hold.segment if question == answer.payload["segment_text"] else -1  # no sentence joined before
            turn.carry = sentence.Unfinished("", question, hold.since, own)
        return None
    if timing.decides:  # the model judges: one it never confirms is not given
        joined = answer.payload["question"] != answer.payload["segment_text"]  # ends a sentence broken by a pause
        due = state.timing.armed and (state.timing.joined_confirms if joined else state.timing.confirms)
    else:
        due = state.timing.confirms or obs.chunk.t1 - hold.since >= timing.defer_max_s - 1e-6
    if not due:
        return None
    state.holds.drop(hold)
    return answer


def relabelled(hold: Hold, obs: Observation, lang: str | None) -> bool:
    """Whether the held question's final text is in, in another language than the partial it was decided on: tiny.en
    reads a segment as English until its language is identified ("Why me and the food?" for Mandarin), and such a
    partial is no question."""
    _own_piece(hold, obs)
    if not hold.pieces:
        return False
    heard_in = final_lang(hold.pieces[0].final)
    return bool(spoken_final(hold.pieces[0].final)) and None not in (heard_in, lang) and heard_in != lang


def held_captions(obs: Observation, state: ConversationState, timing: LearnedTiming, pause: float) -> Decision | None:
    """The captions held for the clock, due now (the model says so, or they waited long enough); as judge, the open
    segment's caption may go at its pause, with the held ones before it (captions.py). Riders go with it."""
    assert state.timing is not None
    t, turn = obs.chunk.t1, state.turn
    speaking = turn.open_segment is not None or (obs.vad is not None and obs.vad.speech)
    confirmed = state.timing.caption_confirms and not (timing.decides and captions.ends_open(state.holds))
    caption = captions.release(state.holds, t, confirmed, speaking, timing.caption_wait_s,
                               bool(obs.extra.get("end_of_stream")), timing.caption_hold_s)
    if caption is None and timing.decides and state.task.mode is Mode.TRANSCRIBE \
            and state.timing.caption_confirms and turn.open_segment is not None and pause >= captions.PAUSE_S - 1e-9:
        caption = captions.release_at_pause(state.holds, turn.open_segment, turn.texts.get(turn.open_segment, ""),
                                            turn.partial_confidence, state.captioned_at_pause)
        if caption is not None:
            state.captioned_at_pause = turn.open_segment
    return None if caption is None else captions.with_riders(state.holds, caption)


def held_sound(hold: Hold, obs: Observation, state: ConversationState, timing: LearnedTiming) -> Decision | None:
    """A non-urgent sound response held for the clock: given when the model says so, or after DEFER_MAX_S."""
    assert state.timing is not None
    if not (state.timing.confirms or obs.chunk.t1 - hold.since >= timing.defer_max_s):
        return None
    state.holds.drop(hold)
    return hold.response


def held_translation(hold: Hold, obs: Observation, state: ConversationState) -> Decision | None:
    """Held pieces translated without another piece: the model confirms them (as judge), the stream ends, or a
    piece ending mid-sentence found no continuation (it was all noise, or the stream paused)."""
    if state.turn.open_segment is not None:  # (voice activity alone may be noise: a segment is speech)
        return None
    if obs.extra.get("end_of_stream"):
        why = "end of stream"
    elif hold.for_model:
        why = "the decision model" if state.timing is not None and state.timing.caption_confirms else ""
    else:
        why = "nothing followed" if obs.chunk.t1 - hold.since >= HELD_MAX_S \
            else "its final text ends the sentence" if final_ends_sentence(hold.pieces[-1]) else ""
    if not why:
        return None
    state.holds.drop(hold)
    return translation_decision(state, hold.pieces, why) if state.task.mode is Mode.TRANSLATE else None


def call(hold: Hold, obs: Observation, state: ConversationState) -> Decision | None:
    """A call to the assistant alone ("Hello, Pascal.", "Hey computer."): dropped when the caller goes on (a new
    segment: the call joins it, turn.carry), answered by itself after CALL_WAIT_S without one or at the end of the
    stream; never while someone is voiced."""
    assert hold.response is not None
    if state.turn.open_segment is not None:
        state.holds.drop(hold)
        return None
    end = bool(obs.extra.get("end_of_stream"))
    if not end and (voiced(obs) or obs.chunk.t1 - hold.since < CALL_WAIT_S - 1e-6):
        return None
    state.holds.drop(hold)
    state.turn.carry = None  # answered: what comes next is a sentence of its own
    state.turn.decided.append(hold.segment)
    return hold.response


def heard(obs: Observation, state: ConversationState, timing: LearnedTiming | None) -> Decision | None:
    """The pass over the holds on what was said, before the chunk's speech is judged: answers whose final text shows
    the sentence goes on are taken back; an answer held for the clock is dropped (the speaker went on) or released
    (returned)."""
    for hold in state.holds.all(HoldKind.UNSAID):
        unsaid(hold, obs, state)
    held = state.holds.get(HoldKind.ANSWER)
    return None if held is None or timing is None else held_answer(held, obs, state, timing)
