"""The assistant policy: spoken instructions, answers to questions addressed to it, translation, counting.

It wraps RulePolicy (transcription mode and the sound policy) and adds, per chunk:
- the end of a question, found at the first chunk with a short pause after speech (0.1 s, the moment the recognizer
  stops refreshing its partial) or when the segment closes, from the text heard so far;
- whether that talk was addressed to the assistant (a question or request, complete, not to someone else by name,
  not background talk: speech much quieter than the loudest recent speaker is ignored, decision/voice.py);
- barge-in: whether the user is really talking over a response (state.interrupt; the session stops the response);
- instructions (decision/instructions.py) that change the task state; the tasks about sounds they start (counting,
  watching, questions about the music: decision/sound_tasks.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from listenloop.decision import captions, release, turn, voice
from listenloop.decision.arbiter import Proposal, Source, arbitrate
from listenloop.decision.base import Decision, Outcome
from listenloop.decision.conversation_state import (
    CLOCK_PAUSE_S,
    HELD_MAX_S,
    QUESTION_PAUSE_S,
    ConversationState,
    translation_decision,
    voiced,
)
from listenloop.decision.holds import Hold, HoldKind
from listenloop.decision.model.timing import LearnedTiming
from listenloop.decision.rules import RulePolicy
from listenloop.decision.sounds.sound_tasks import SoundTasks
from listenloop.decision.text import address, sentence
from listenloop.decision.text import utterance as utt
from listenloop.decision.text.address import Addressee
from listenloop.decision.text.instructions import Instruction, TaskChange, TaskState, acknowledgement, apply, parse
from listenloop.perception.observation import Observation, SegmentEnd, final_lang
from listenloop.vocabulary import Emotion, Mode, Task

if TYPE_CHECKING:
    from listenloop.decision.sounds.sound_policy import SoundPolicy

ENGLISH = "en"  # the language the decision model was trained on (ISO 639-1)

__all__ = ["HELD_MAX_S", "ConversationPolicy"]


class ConversationPolicy:
    """DecisionPolicy of a conversational session (any mode: assistant, transcribe, translate, quiet)."""

    def __init__(self, task: TaskState, sound_policy: SoundPolicy | None = None, class_names: tuple[str, ...] = (),
                 initial: Instruction | None = None, timing: LearnedTiming | None = None,
                 names: tuple[str, ...] = ()) -> None:
        self.task = task
        self.names = names  # the assistant's name and aliases (decision/address.py); empty: it has none
        self.timing = timing  # when set, the learned model says when a spoken question is answered (timing.py)
        self.initial = initial
        self.rules = RulePolicy(task.mode, sound_policy)
        self.sound_tasks = SoundTasks(class_names)

    def init_state(self) -> ConversationState:
        state = ConversationState(self.task, self.rules.init_state())
        if self.timing is not None:
            state.timing = self.timing.init_state(self.task.mode)
            state.turn = state.timing.features.turn  # one turn, read by the rules and the model's features
        if self.initial is not None or self.task.mode is not Mode.TRANSCRIBE:
            state.changes.append(TaskChange(0.0, self.task, "option", self.initial))
        return state

    def instruct(self, state: ConversationState, text: str) -> Instruction | None:
        """Control API: queue an instruction (any thread); it takes effect at the next chunk. None if not one."""
        instruction = parse(text)
        if instruction is not None:
            state.control.put(instruction)
        return instruction

    def step(self, obs: Observation, state: ConversationState) -> Outcome:
        """One chunk's whole outcome: the decision, barge-in, and the task changes made since the last step."""
        decision = self.decide(obs, state)
        return Outcome(decision, state.interrupt, self.changes(state))

    @staticmethod
    def changes(state: ConversationState) -> tuple[TaskChange, ...]:
        """The task changes not reported yet (the session's starting task before any chunk), taken once."""
        changes, state.changes = tuple(state.changes), []
        return changes

    def decide(self, obs: Observation, state: ConversationState) -> Decision:
        """One chunk: perceive (instructions, voice, the model, sounds, the rules), release the holds on what was
        said, judge the speech, propose, release the holds that are due, and let the arbiter pick one decision."""
        t = obs.chunk.t1
        proposals: list[Proposal] = []
        while not state.control.empty():
            proposals.append(Proposal(Source.CONTROL, self._instruct(state, state.control.get_nowait(), t, "control")))
        turn.hear(state.turn, obs)  # what is being said, once for the rules and the model's features
        pause = self._track_voice(obs, state)
        state.interrupt = False
        if self.timing is not None:
            self.timing.step(obs, state.timing, state.task.mode)
        proposals += [Proposal(Source.WATCHED, d) for d in self.sound_tasks.track(obs, state.task, state.sounds)]
        state.rules.mode = state.task.mode
        rules = self.rules.decide(obs, state.rules)
        if rules.responds and rules.emotion is Emotion.URGENT:
            return rules  # urgent sounds go at once, whatever else the chunk holds
        held_answer = release.heard(obs, state, self.timing)  # before the speech: it reopens the sentence
        spoken = self._spoken(obs, state, pause)
        if obs.vad is not None:
            text = None if obs.asr is None else state.turn.texts.get(state.turn.open_segment, "")
            state.interrupt = voice.barges_in(state.voice, text, t)
        if spoken is not None:
            proposals.append(Proposal(Source.SPEECH, spoken))
        self._short_segment(obs, state, rules)
        if rules.responds and rules.task is Task.TRANSCRIBE \
                and (self.timing is None or _untrained(_segment_lang(state, rules.payload["segment"]))):
            proposals.append(Proposal(Source.CAPTION, captions.with_riders(state.holds, rules)))
        elif rules.responds and (rules.task is Task.TRANSCRIBE or self._sound_allowed(rules, state)):
            if self.timing is None:
                proposals.append(Proposal(Source.SOUND, rules))
            elif rules.task is Task.TRANSCRIBE:  # pieces of one sentence join (captions.py)
                captions.hold(state.holds, rules.payload["segment"], t, state.captioned_at_pause)
            else:  # a doorbell or a cough waits for the clock
                state.holds.put(Hold(HoldKind.SOUND, t, rules))
        proposals += self._release_due(obs, state, pause)
        if held_answer is not None:
            proposals.append(Proposal(Source.HELD_ANSWER, held_answer))
        if obs.extra.get("end_of_stream"):
            proposals += self._at_end(state, proposals)
        decision = arbitrate(proposals, state.withdrawn)
        if not decision.responds:
            return decision
        if decision.task is not None and decision.task.answers_speech and state.timing is not None:
            state.timing.armed = False  # one response per thing said
        if decision.task is Task.ANSWER and "question_segment" in decision.payload:
            ended = obs.asr.ended if obs.asr is not None else None
            state.holds.put(Hold(HoldKind.UNSAID, t, decision, pieces=[] if ended is None else [ended],
                                 segment=int(decision.payload["question_segment"])))
        return decision

    def _release_due(self, obs: Observation, state: ConversationState, pause: float) -> list[Proposal]:
        """The pass over the holds on when to speak: held captions and sounds (learned clock), the answer to a
        question about the music, held translation pieces."""
        out: list[Proposal] = []
        if self.timing is not None:
            caption = release.held_captions(obs, state, self.timing, pause)
            if caption is not None:
                out.append(Proposal(Source.CAPTION, caption))
            sound = state.holds.get(HoldKind.SOUND)
            sound = None if sound is None else release.held_sound(sound, obs, state, self.timing)
            if sound is not None:
                out.append(Proposal(Source.HELD_SOUND, sound))
        music = state.holds.get(HoldKind.MUSIC)
        if music is not None and (answer := self.sound_tasks.music_due(obs, state.task, state.sounds, music)):
            state.holds.drop(music)
            out.append(Proposal(Source.MUSIC, answer))
        called = state.holds.get(HoldKind.CALL)
        if called is not None and (answer := release.call(called, obs, state)) is not None:
            out.append(Proposal(Source.CALL, answer))
        pieces = state.holds.get(HoldKind.TRANSLATION)
        if pieces is not None and (translation := release.held_translation(pieces, obs, state)) is not None:
            out.append(Proposal(Source.TRANSLATION, translation))
        return out

    def _at_end(self, state: ConversationState, proposals: list[Proposal]) -> list[Proposal]:
        """The end of the stream: short segments still waiting to ride with a caption get their own; the count is
        reported."""
        out = []
        captioned = any(p.decision.responds and p.decision.task is Task.TRANSCRIBE for p in proposals)
        riders = None if captioned or state.task.mode is not Mode.TRANSCRIBE else captions.riders_at_end(state.holds)
        if riders is not None:
            out.append(Proposal(Source.CAPTION, riders))
        if state.task.count_sound:
            out.append(Proposal(Source.COUNT, self.sound_tasks.count_report(state.task, state.sounds,
                                                                           "end of stream")))
        return out

    @staticmethod
    def _short_segment(obs: Observation, state: ConversationState, rules: Decision) -> None:
        """In transcription mode, a segment that closed with no partial text gets no caption of its own from the
        rules; it rides with the next one (captions.py), so its final text is not lost from the captions."""
        ended = obs.asr.ended if obs.asr is not None else None
        if ended is not None and state.task.mode is Mode.TRANSCRIBE and not ended.last_partial.strip() \
                and not (rules.responds and rules.task is Task.TRANSCRIBE):
            captions.ride(state.holds, ended)

    # ---- speech ----
    def _track_voice(self, obs: Observation, state: ConversationState) -> float:
        """Seconds of pause at the end of this chunk (0 while voiced); keeps the speech levels."""
        if obs.vad is None:
            return 0.0
        return voice.track(state.voice, obs.chunk.samples, obs.vad.probs, obs.chunk.t1)

    def _spoken(self, obs: Observation, state: ConversationState, pause: float) -> Decision | None:
        """The decision about what was just said, at a pause or at the segment's close; None if none is due."""
        asr, heard = obs.asr, state.turn
        ended: SegmentEnd | None = asr.ended if asr is not None else None
        rejudge = state.holds.get(HoldKind.REJUDGE)
        if ended is None and rejudge is not None and rejudge.pieces[0].final.done():
            state.holds.drop(rejudge)  # the final text is in: judge the segment again with it
            ended = rejudge.pieces[0]
            turn.settle(heard, ended)
            if voiced(obs) or heard.open_segment is not None:  # the speaker went on: a reply would cut in (jfk.flac)
                late = self._late_instruction(obs, state, ended)  # but an instruction is not lost
                if late is None and state.task.mode is Mode.TRANSLATE and ended.segment not in heard.decided:
                    return self._translate_later(state, ended, obs.chunk.t1)  # nor a piece to translate
                return late
            decision = self._judge(obs, state, ended.segment, ended.settled_text(), ended)
            if not sentence.is_filler(ended.settled_text()):  # a filler ("Let me see.") keeps the sentence before open
                turn.keep_open(heard, ended, ended.settled_text())  # "... Fahrenheit to?": the next piece joins it
            return decision
        if ended is not None:
            heard.seg_t0 = ended.t0
            text = ended.settled_text() or heard.texts.get(ended.segment, "")
            heard.texts.pop(ended.segment, None)
            decision = self._judge(obs, state, ended.segment, text, ended)
            if not ended.final.done() and ended.segment not in heard.decided:
                # tiny.en's text said nothing to do; Whisper base may hear a question
                state.holds.put(Hold(HoldKind.REJUDGE, obs.chunk.t1, pieces=[ended], segment=ended.segment))
            turn.close(heard, ended, text)
            voice.close_segment(state.voice, ended.segment, ended.t1)
            return decision
        clock_now = state.timing is not None and state.timing.ready
        if heard.open_segment is not None and pause >= (CLOCK_PAUSE_S if clock_now else QUESTION_PAUSE_S) - 1e-9 \
                and heard.open_segment in heard.texts:
            return self._judge(obs, state, heard.open_segment, heard.texts[heard.open_segment], None)
        return None

    def _late_instruction(self, obs: Observation, state: ConversationState, ended: SegmentEnd) -> Decision | None:
        """A segment's final text came in after the speaker went on, and it is an instruction its partial did not
        show ("Can't wait you here, dog parking." was "Count when you hear dog barking."): it is taken now, its
        count starting where it was said; None if it is no instruction."""
        instruction = parse(ended.settled_text())
        if instruction is None or ended.segment in state.turn.decided:
            return None
        state.turn.decided.append(ended.segment)
        return self._instruct(state, instruction, obs.chunk.t1, "speech", ended.segment, ended.t1)

    def _judge(self, obs: Observation, state: ConversationState, segment: int, text: str,
               ended: SegmentEnd | None) -> Decision | None:
        heard = state.turn
        lang = _segment_lang(state, ended)
        if ended is not None and state.task.mode is Mode.TRANSLATE and not text.strip() and not ended.final.done() \
                and segment not in heard.decided:  # too short for a partial: held until its final text is in
            return self._translate(state, ended, text, obs.chunk.t1)
        if segment in heard.decided or not text.strip() or sentence.is_filler(text, lang):
            return None  # a filler ("you know") neither ends the sentence before it nor is one
        partial = heard.partial_confidence if ended is None else ended.last_confidence
        if (ended is None or not ended.final.done()) and sentence.may_go_on(text, partial):
            return None  # judged again with the final text (a REJUDGE hold)
        t = obs.chunk.t1
        instruction = parse(text)
        if instruction is not None:
            heard.decided.append(segment)
            said = ended.t1 if ended is not None else state.voice.last_voiced_t
            return self._instruct(state, instruction, t, "speech", segment, said)
        mode = state.task.mode
        if mode is Mode.TRANSLATE:
            return None if ended is None else self._translate(state, ended, text, t)
        if mode is not Mode.ASSISTANT:
            return None
        head = turn.carried_text(heard, ended)
        # the sentence of an answer taken back: the model's yes to it stands
        resumed = bool(heard.taken_back) and tuple(utt.words_of(head)[: len(heard.taken_back)]) == heard.taken_back
        full = sentence.join(head, text)
        said = utt.analyse(full, lang, names=self.names)
        if sentence.still_open(head, text, lang):
            if ended is None:
                return None
            level = voice.segment_level(state.voice, segment)
            if address.is_call(full, self.names) and address.addressee(full, self.names).who is Addressee.ASSISTANT \
                    and not voice.is_background(level, state.voice, obs.chunk.t1):
                self._hold_call(obs, state, full, segment, text, lang)  # "Hello, Pascal." and a pause
                return Decision.silent(f"a call by name ({full[-24:]!r}): waiting for what follows")
            return Decision.silent(f"not addressed: unfinished ({full[-24:]!r})")
        if said.kind is utt.Kind.STATEMENT:
            return None if ended is None else Decision.silent(f"not addressed: {said.kind.value}")
        heard.decided.append(segment)
        heard.carry, heard.taken_back = None, ()  # the sentence is whole
        if not said.addressed:
            return Decision.silent(f"not addressed: {said.why}")
        level = voice.segment_level(state.voice, None if ended is None else segment)
        if voice.is_background(level, state.voice, t):
            return Decision.silent(f"background talk ({level:.0f} dBFS, reference "
                                   f"{voice.reference(state.voice, t):.0f})")
        return self._answer(obs, state, full, said, segment, text, confirmed=resumed or said.named or _untrained(lang),
                            lang=lang)

    @staticmethod
    def _translate_later(state: ConversationState, ended: SegmentEnd, t: float) -> Decision:
        """A closed segment whose final text came in after the speaker went on: held with the pieces before it,
        translated at the next pause (release.held_translation) or with the next piece (_translate), never lost."""
        state.turn.decided.append(ended.segment)
        held = state.holds.take(HoldKind.TRANSLATION)
        state.holds.put(Hold(HoldKind.TRANSLATION, t, pieces=[*([] if held is None else held.pieces), ended]))
        return Decision.silent(f"segment {ended.segment}: its final text came in while the speaker went on; "
                               "translated at the next pause or with the next piece")

    def _translate(self, state: ConversationState, ended: SegmentEnd, text: str, t: float) -> Decision:
        """A closed segment into the target language. A piece that does not end its sentence (cut at the segment
        length limit, or no final punctuation: a pause mid-sentence) waits for the next piece, and the two are
        translated together: half a sentence translates badly. As judge, the model confirms a translation as it
        does a caption; until it does, the pieces wait and the next piece joins them (a pause the recognizer closed
        with a full stop, "I was thinking about. | The trip")."""
        state.turn.decided.append(ended.segment)
        held = state.holds.take(HoldKind.TRANSLATION)
        before = [] if held is None else held.pieces
        if not before and (ended.cut or not utt.ends_sentence(text)):
            state.holds.put(Hold(HoldKind.TRANSLATION, t, pieces=[ended]))
            return Decision.silent(f"segment {ended.segment} ends mid-sentence: translated with the next piece")
        if self.timing is not None and self.timing.decides and not state.timing.caption_confirms \
                and ended.t1 - (before or [ended])[0].t0 < captions.CAPTION_HOLD_MAX_S \
                and not _untrained(_segment_lang(state, ended)):
            state.holds.put(Hold(HoldKind.TRANSLATION, t, pieces=[*before, ended], for_model=True))
            return Decision.silent(f"segment {ended.segment}: the translation waits for the decision model")
        return translation_decision(state, [*before, ended], "closed")

    def _hold_call(self, obs: Observation, state: ConversationState, call: str, segment: int, own: str,
                   lang: str | None) -> None:
        """A call to the assistant alone waits for what follows (a CALL hold, decision/release.py): the answer it
        gets if nothing does, given without the decision model (it was called by name)."""
        answer = Decision.respond(Task.ANSWER, f"called by name, nothing followed (segment {segment})", question=call,
                                  about=utt.About.GENERAL.value, question_segment=segment, segment_text=own,
                                  lang=lang, **self.sound_tasks.context(state.task, state.sounds))
        before = state.holds.get(HoldKind.CALL)
        since = before.since if before is not None and before.segment == segment else obs.chunk.t1  # judged again
        state.holds.put(Hold(HoldKind.CALL, since, answer, segment=segment, heard=call))  # on its final text

    def _answer(self, obs: Observation, state: ConversationState, text: str, heard: utt.Heard,
                segment: int, own: str, confirmed: bool = False, lang: str | None = None) -> Decision | None:
        """`text`: the question (with an unfinished sentence before it joined); `own`: its segment's text as judged,
        which the responder replaces by the segment's final text if that comes soon (respond/answer.py).
        `confirmed`: the question ends a sentence whose answer was taken back for coming too soon; the model's yes
        to it stands, and the answer is not held again."""
        t = obs.chunk.t1
        if heard.about is utt.About.COUNT and state.task.count_sound:
            return self.sound_tasks.count_report(state.task, state.sounds, "asked for the count")
        if self.sound_tasks.wait_for_music(state.sounds, state.holds, text, t, heard.about):
            return Decision.silent("question about music: listening first")  # "what style is the music below?"
        answer = Decision.respond(Task.ANSWER, f"question ends (segment {segment})", question=text,
                                  about=heard.about.value, question_segment=segment, segment_text=own, lang=lang,
                                  **self.sound_tasks.context(state.task, state.sounds))
        if state.timing is not None and not state.timing.confirms and not confirmed:
            state.holds.put(Hold(HoldKind.ANSWER, t, answer, segment=segment,
                                 heard=state.turn.texts.get(segment, "")))
            return Decision.silent("question: waiting for the decision model")
        return answer

    # ---- instructions and task state ----
    def _instruct(self, state: ConversationState, instruction: Instruction, t: float, source: str,
                  segment: int | None = None, said: float | None = None) -> Decision:
        """Apply an instruction decided at `t` (s), spoken until `said` (s; None: given at `t`, by the control API)."""
        before = state.task
        state.task = apply(before, instruction)
        state.changes.append(TaskChange(t, state.task, source, instruction))
        if instruction.labels and instruction.kind.value == "count":
            self.sound_tasks.start_count(state.task, state.sounds, t if said is None else said)
        if before.mode is Mode.TRANSCRIBE and state.task.mode is Mode.TRANSCRIBE:
            return Decision.silent("instruction (transcription mode)")
        return Decision.respond(Task.ACKNOWLEDGE, f"instruction: {instruction.kind.value}",
                                text=acknowledgement(instruction, state.task), segment_number=segment)

    # ---- sounds ----
    def _sound_allowed(self, decision: Decision, state: ConversationState) -> bool:
        """Non-urgent sound responses: in assistant mode only, and never for the sound being counted."""
        if state.task.mode is not Mode.ASSISTANT:
            return False
        return decision.payload.get("label") not in state.task.count_labels


def _segment_lang(state: ConversationState, ended: SegmentEnd | None) -> str | None:
    """A segment's language: its final text's when that is in, else its partials' (identified on its first second,
    perception/asr.py)."""
    return final_lang(ended.final) if ended is not None and ended.final.done() else state.turn.lang


def _untrained(lang: str | None) -> bool:
    """Whether speech in `lang` is in a language the decision model never heard (it learned English only): an answer,
    caption or translation of it then goes as the rules say, without waiting for the model's yes."""
    return lang not in (None, ENGLISH)
