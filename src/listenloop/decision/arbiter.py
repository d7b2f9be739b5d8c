"""One chunk, one decision: the arbiter picks among what the chunk's proposers and released holds propose.

Proposals are ranked by where they come from (`Source`, lowest first): a caption goes before an answer so that the
transcript stays in order, speech before sounds, and a response that waited goes after those that did not. The first
proposal that responds wins; the others are dropped (a hold that was released and lost is not held again). With no
response this chunk, an answer taken back (decision/holds.py, UNSAID) is reported instead, one per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from listenloop.decision.base import Decision


class Source(IntEnum):
    """Where a proposal comes from, in the order proposals win."""

    CAPTION = 0  # a caption: the rules' (transcription mode), a held caption's, riders' at the end of the stream
    SPEECH = 1  # what was just said: an answer, an instruction, a translation, or why it gets none
    CONTROL = 2  # an instruction from the control API (session.instruct)
    WATCHED = 3  # a watched sound's onset ("tell me when the baby cries")
    SOUND = 4  # a sound response of the user's sound policy
    HELD_SOUND = 5  # ... one that waited for the learned clock
    MUSIC = 6  # the answer to a question that waited for the music
    TRANSLATION = 7  # translation pieces that waited for their continuation or for the model
    HELD_ANSWER = 8  # an answer that waited for the learned clock
    CALL = 9  # the answer to a call by name that nothing followed
    COUNT = 10  # the count report at the end of the stream


@dataclass(frozen=True)
class Proposal:
    source: Source
    decision: Decision


def arbitrate(proposals: list[Proposal], withdrawn: list[Decision]) -> Decision:
    """The chunk's decision: the first responding proposal by source, else the oldest withdrawal not yet reported
    (taken from `withdrawn`), else silence with the first proposal's reason."""
    ranked = sorted(proposals, key=lambda p: p.source)  # stable: proposals of one source keep their order
    responding = next((p.decision for p in ranked if p.decision.responds), None)
    if responding is not None:
        return responding
    if withdrawn:
        return withdrawn.pop(0)
    return Decision.silent(ranked[0].decision.reason if ranked else "")
