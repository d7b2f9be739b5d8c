"""The conversation policy's per-stream state (decision/conversation.py) and the helpers that read and change it
without the policy's models: what is held, carried across pauses, taken back."""

from __future__ import annotations

import collections
import dataclasses
import queue
from dataclasses import dataclass, field

import numpy as np

from listenloop.audio.constants import VAD_WINDOW_SECONDS
from listenloop.decision import captions, sentence, voice
from listenloop.decision import utterance as utt
from listenloop.decision.base import Decision
from listenloop.decision.instructions import Instruction, TaskState
from listenloop.decision.rules import RulesState
from listenloop.decision.sound_tasks import SoundTaskState
from listenloop.decision.timing import TimingState
from listenloop.perception.observation import Confidence, Observation, SegmentEnd, spoken_final
from listenloop.vocabulary import Task

QUESTION_PAUSE_S = 0.1  # s of pause after speech at which a complete question is answered (the ASR's speculation point)
CLOCK_PAUSE_S = VAD_WINDOW_SECONDS  # s: ... or one unvoiced VAD window when the learned clock says a response is due
# now (the model has judged the timing; the answer still asks the segment's final text, respond/answer.py)
HELD_MAX_S = 2.0  # s; a translation piece held for its continuation is translated alone after this long without speech
CARRY_S = 3.0  # s; an unfinished sentence is joined to speech that resumes within this long (a pause mid-sentence)
DECIDED_KEEP = 16  # recent segment numbers remembered as decided (bounded)
FINAL_WAIT_S = 2.5  # s an answer waits at most for its question's final text (respond/answer.py), and the policy
# watches for it to take an answer back: on this CPU (Zen 1) the final comes 0.8 s after the decision live, 1.5 to
# 1.7 s with the CPU shared; a CI machine's answer that waited 0.8 s asked tiny.en's "toast"


@dataclass(frozen=True)
class TaskChange:
    t: float  # stream time, s
    state: TaskState
    source: str  # "speech" | "option" | "control"
    instruction: Instruction | None = None


@dataclass
class Unsaid:
    """An answer decided on its question's text before that segment's final text was in. It is taken back (not yet
    said: the answer waits for the final text, respond/answer.py) if the final text shows the sentence goes on."""

    answer: Decision
    t: float  # s, stream time it was decided
    ended: SegmentEnd | None = None  # its segment, once closed

    @property
    def segment(self) -> int:
        return int(self.answer.payload["question_segment"])


@dataclass
class ConversationState:
    task: TaskState
    rules: RulesState
    changes: list[TaskChange] = field(default_factory=list)  # task changes not yet reported (the session drains)
    control: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)  # instructions from session.instruct()
    texts: dict[int, str] = field(default_factory=dict)  # segment -> latest partial text (open segments only)
    confidence: Confidence = Confidence()  # of the open segment's latest partial text (tiny.en's)
    lang: str | None = None  # language of the open segment's latest partial text (ISO 639-1)
    segment: int | None = None  # the segment being spoken
    seg_t0: float = 0.0  # s, its start
    decided: collections.deque = field(default_factory=lambda: collections.deque(maxlen=DECIDED_KEEP))
    carry: sentence.Unfinished | None = None  # a sentence still open at a pause, joined to the speech that resumes
    voice: voice.VoiceState = field(default_factory=voice.VoiceState)  # levels, background talk, barge-in
    interrupt: bool = False  # this chunk: the user talks over a response (the session stops it if barge-in is on)
    sounds: SoundTaskState = field(default_factory=SoundTaskState)  # counting, music heard, a question waiting
    awaiting: SegmentEnd | None = None  # a closed segment judged on its partial, to judge again on its final text
    held: list[SegmentEnd] = field(default_factory=list)  # translation: pieces waiting, translated together with
    # the next piece: one ending mid-sentence, or (as judge) pieces whose translation the model has not confirmed
    held_at: float = 0.0  # s, stream time the last of them was held
    held_for_model: bool = False  # the held pieces wait for the model (else for their continuation, HELD_MAX_S)
    timing: TimingState | None = None  # the learned clock's features (when the policy has one)
    captions: captions.CaptionHold = field(default_factory=captions.CaptionHold)  # transcripts waiting for the clock
    sound_held: tuple[Decision, float] | None = None  # a non-urgent sound response waiting for the clock, since when
    deferred: tuple[Decision, float, int, str] | None = None  # an answer waiting for the clock: the decision, since
    # when, its segment and that segment's text then
    unsaid: list[Unsaid] = field(default_factory=list)  # answers until their question's final text is in (at most
    # FINAL_WAIT_S)
    withdrawn: list[Decision] = field(default_factory=list)  # answers taken back, reported in chunks without a response
    taken_back: tuple[str, ...] = ()  # the words of the last sentence whose answer was taken back (kept open)

    def reset(self) -> None:
        self.rules.reset()
        self.texts.clear()
        self.decided.clear()
        self.carry, self.segment = None, None
        self.held.clear()
        self.confidence = Confidence()
        self.voice.reset()
        self.sounds.reset()
        self.deferred, self.sound_held = None, None
        self.unsaid.clear()
        self.withdrawn.clear()
        self.taken_back = ()
        self.captions.reset()
        if self.timing is not None:
            self.timing.reset()


def carried_text(state: ConversationState, ended: SegmentEnd | None = None) -> str:
    """The unfinished sentence the current segment goes on with ("" when none, or the speaker resumed too late).
    When that segment (`ended`) is itself the last piece kept, what came before it."""
    carry = state.carry
    if carry is None:
        return ""
    if ended is not None and carry.segment == ended.segment:
        return carry.head
    return carry.text if state.seg_t0 - carry.t1 <= CARRY_S else ""


def settle(state: ConversationState, ended: SegmentEnd) -> None:
    """A closed segment's final text is in: an unfinished sentence kept from it reads the final, not tiny.en (not
    one a filler after it kept open: "When does the next bus turn? | Let me see. | Airport leave")."""
    final = ended.settled_text()
    if final and state.carry is not None and state.carry.segment == ended.segment:
        state.carry = dataclasses.replace(state.carry, piece=final)


def take_back_if_too_soon(state: ConversationState, unsaid: Unsaid) -> None:
    """The answer's question's final text is in: if it shows the sentence goes on, the answer is taken back (reported
    as a `withdraw` decision) and, unless something said after it was decided on already, the sentence is kept open
    for the next piece; the model's yes to it stands."""
    question, piece = unsaid.answer.payload["question"], unsaid.answer.payload.get("segment_text", "")
    final = unsaid.ended.settled_text()
    if not sentence.answered_too_soon(question, piece, final):
        return
    why = f"answer taken back: the final text goes on ({final[-32:]!r})"
    state.withdrawn.append(Decision.withdraw(Task.ANSWER, why, question_segment=unsaid.segment))
    if any(later > unsaid.segment for later in state.decided):
        return  # the talk has gone on to something else: no sentence to keep open
    if unsaid.segment in state.decided:
        state.decided.remove(unsaid.segment)
    state.carry = sentence.Unfinished(sentence.head_before(question, piece), final, unsaid.ended.t1, unsaid.segment)
    state.taken_back = tuple(utt.words_of(state.carry.text))
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
