"""The conversation policy's per-stream state (decision/conversation.py): the task, the turn as the rules see it
(decision/turn.py), what is held back (decision/holds.py), and the helpers that change them without the policy's
models: an answer taken back, a translation of held pieces."""

from __future__ import annotations

import queue
from dataclasses import dataclass, field

import numpy as np

from listenloop.audio.constants import VAD_WINDOW_SECONDS
from listenloop.decision import voice
from listenloop.decision.base import Decision
from listenloop.decision.holds import Hold, HoldQueue
from listenloop.decision.model.timing import TimingState
from listenloop.decision.rules import RulesState
from listenloop.decision.sounds.sound_tasks import SoundTaskState
from listenloop.decision.text import sentence
from listenloop.decision.text import utterance as utt
from listenloop.decision.text.instructions import TaskChange, TaskState
from listenloop.decision.turn import TurnState
from listenloop.perception.observation import Observation, SegmentEnd, spoken_final
from listenloop.vocabulary import Task

QUESTION_PAUSE_S = 0.1  # s of pause after speech at which a complete question is answered (the ASR's speculation point)
CLOCK_PAUSE_S = VAD_WINDOW_SECONDS  # s: ... or one unvoiced VAD window when the learned clock says a response is due
# now (the model has judged the timing; the answer still asks the segment's final text, respond/answer.py)
HELD_MAX_S = 2.0  # s; a translation piece held for its continuation is translated alone after this long without speech
FINAL_WAIT_S = 2.5  # s an answer waits at most for its question's final text (respond/answer.py), and the policy
# watches for it to take an answer back: on this CPU (Zen 1) the final comes 0.8 s after the decision live, 1.5 to
# 1.7 s with the CPU shared; a CI machine's answer that waited 0.8 s asked tiny.en's "toast"


@dataclass
class ConversationState:
    task: TaskState
    rules: RulesState
    changes: list[TaskChange] = field(default_factory=list)  # task changes not yet reported (the session drains)
    control: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)  # instructions from session.instruct()
    turn: TurnState = field(default_factory=TurnState)  # what is being said, as the rules see it
    voice: voice.VoiceState = field(default_factory=voice.VoiceState)  # levels, background talk, barge-in
    interrupt: bool = False  # this chunk: the user talks over a response (the session stops it if barge-in is on)
    sounds: SoundTaskState = field(default_factory=SoundTaskState)  # counting, music heard
    holds: HoldQueue = field(default_factory=HoldQueue)  # every response held back, and segments waiting
    timing: TimingState | None = None  # the learned clock's features (when the policy has one)
    withdrawn: list[Decision] = field(default_factory=list)  # answers taken back, reported in chunks without a response
    captioned_at_pause: int = -1  # the segment whose caption went out at its pause, while open: its close adds nothing

    def reset(self) -> None:
        self.rules.reset()
        self.turn.reset()
        self.voice.reset()
        self.sounds.reset()
        self.holds.reset()
        self.withdrawn.clear()
        self.captioned_at_pause = -1
        if self.timing is not None:
            self.timing.reset()


def take_back_if_too_soon(state: ConversationState, unsaid: Hold) -> None:
    """The answer's question's final text is in: if it shows the sentence goes on, the answer is taken back (reported
    as a `withdraw` decision) and, unless something said after it was decided on already, the sentence is kept open
    for the next piece; the model's yes to it stands."""
    assert unsaid.response is not None and unsaid.pieces
    question, piece = unsaid.response.payload["question"], unsaid.response.payload.get("segment_text", "")
    ended = unsaid.pieces[0]
    final = ended.settled_text()
    if not sentence.answered_too_soon(question, piece, final):
        return
    why = f"answer taken back: the final text goes on ({final[-32:]!r})"
    state.withdrawn.append(Decision.withdraw(Task.ANSWER, why, question_segment=unsaid.segment))
    turn = state.turn
    if any(later > unsaid.segment for later in turn.decided):
        return  # the talk has gone on to something else: no sentence to keep open
    turn.undecide(unsaid.segment)
    turn.carry = sentence.Unfinished(sentence.head_before(question, piece), final, ended.t1, unsaid.segment)
    turn.taken_back = tuple(utt.words_of(turn.carry.text))
    if state.timing is not None:
        state.timing.armed = True  # nothing was said: the rest of the sentence is still to answer


def translation_decision(state: ConversationState, pieces: list[SegmentEnd], why: str) -> Decision:
    """One translation of `pieces` (the last is `segment`, those before it `before`)."""
    joined = {"before": pieces[:-1]} if len(pieces) > 1 else {}
    return Decision.respond(Task.TRANSLATE, f"segment {pieces[-1].segment}: {why}", segment=pieces[-1],
                            language=state.task.language, **joined)


def final_ends_sentence(piece: SegmentEnd) -> bool:
    """A piece held before any text of it was known (too short for a partial) has its final text, which ends its
    sentence: it is translated now. (One held for its partial text, with no full stop, still waits.)"""
    return not piece.cut and not piece.last_partial.strip() and utt.ends_sentence(spoken_final(piece.final))


def voiced(obs: Observation) -> bool:
    """Whether this chunk holds voice (a VAD window at or above the voice tracker's threshold). The tracker's pause
    cannot say it: after a segment closes it reads 0 until new voice."""
    return obs.vad is not None and bool(np.any(np.asarray(obs.vad.probs) >= voice.SPEECH_PROB))
