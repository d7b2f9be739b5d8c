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

import dataclasses
from typing import Any

from listenloop.decision import captions, sentence, voice
from listenloop.decision import utterance as utt
from listenloop.decision.base import Decision
from listenloop.decision.conversation_state import (
    CLOCK_PAUSE_S,
    FINAL_WAIT_S,
    HELD_MAX_S,
    QUESTION_PAUSE_S,
    ConversationState,
    TaskChange,
    Unsaid,
    carried_text,
    final_ends_sentence,
    settle,
    take_back_if_too_soon,
    translation_decision,
    voiced,
)
from listenloop.decision.instructions import Instruction, TaskState, acknowledgement, apply, parse
from listenloop.decision.rules import RulePolicy
from listenloop.decision.sound_tasks import SoundTasks
from listenloop.decision.timing import LearnedTiming
from listenloop.perception.observation import Observation, SegmentEnd, final_lang
from listenloop.vocabulary import Emotion, Mode, Task


class ConversationPolicy:
    """DecisionPolicy of a conversational session (any mode: assistant, transcribe, translate, quiet)."""

    def __init__(self, task: TaskState, sound_policy: Any | None = None, class_names: tuple[str, ...] = (),
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
        if self.initial is not None or self.task.mode is not Mode.TRANSCRIBE:
            state.changes.append(TaskChange(0.0, self.task, "option", self.initial))
        return state

    def instruct(self, state: ConversationState, text: str) -> Instruction | None:
        """Control API: queue an instruction (any thread); it takes effect at the next chunk. None if not one."""
        instruction = parse(text)
        if instruction is not None:
            state.control.put(instruction)
        return instruction

    def decide(self, obs: Observation, state: ConversationState) -> Decision:
        t = obs.chunk.t1
        candidates: list[Decision] = []
        while not state.control.empty():
            candidates.append(self._instruct(state, state.control.get_nowait(), t, "control"))
        pause = self._track_voice(obs, state)
        state.interrupt = False
        if self.timing is not None:
            self.timing.step(obs, state.timing, state.task.mode)
        candidates += self.sound_tasks.track(obs, state.task, state.sounds)
        state.rules.mode = state.task.mode
        rules = self.rules.decide(obs, state.rules)
        if rules.responds and rules.emotion is Emotion.URGENT:
            return rules
        self._take_back(obs, state)  # before `_spoken`: the sentence of an answer taken back joins what follows
        deferred = self._deferred_answer(obs, state)  # (so does a dropped answer's)
        spoken = self._spoken(obs, state, pause)
        if obs.vad is not None:
            text = None if obs.asr is None else state.texts.get(state.segment, "")
            state.interrupt = voice.barges_in(state.voice, text, t)
        if spoken is not None:
            candidates.insert(0, spoken)
        self._short_segment(obs, state, rules)
        if rules.responds and rules.task is Task.TRANSCRIBE and self.timing is None:
            candidates.insert(0, captions.with_riders(state.captions, rules))  # captions first, as always
        elif rules.responds and (rules.task is Task.TRANSCRIBE or self._sound_allowed(rules, state)):
            if self.timing is None:
                candidates.append(rules)
            else:
                self._wait_for_clock(state, rules, t)
        if self.timing is not None:
            caption, sound = self._clock_says(obs, state, pause)
            candidates[:0] = [caption] if caption is not None else []  # captions first, as without the clock
            candidates += [sound] if sound is not None else []
        for late in (self.sound_tasks.pending_ready(obs, state.task, state.sounds), self._held_translation(obs, state),
                     deferred):
            if late is not None:
                candidates.append(late)
        if obs.extra.get("end_of_stream"):
            self._at_end(state, candidates)
        responding = [c for c in candidates if c.responds]
        if not responding:  # an answer taken back is reported in a chunk without a response of its own
            silent = Decision.silent(next((c.reason for c in candidates), ""))
            return state.withdrawn.pop(0) if state.withdrawn else silent
        if responding[0].task is not None and responding[0].task.answers_speech and state.timing is not None:
            state.timing.armed = False  # one response per thing said
        if responding[0].task is Task.ANSWER and "question_segment" in responding[0].payload:
            state.unsaid.append(Unsaid(responding[0], t, obs.asr.ended if obs.asr is not None else None))
        return responding[0]

    @staticmethod
    def _take_back(obs: Observation, state: ConversationState) -> None:
        """An answer decided on tiny.en's text is taken back, before it is said, when its question's final text
        (Whisper base) shows the sentence goes on: "How long does it take to fly from Paris?" was "... Paris to?".
        The sentence is kept open for the next piece, as if it had not been answered."""
        ended = obs.asr.ended if obs.asr is not None else None
        for unsaid in list(state.unsaid):
            if unsaid.ended is None and ended is not None and ended.segment == unsaid.segment:
                unsaid.ended = ended
            expired = obs.chunk.t1 - unsaid.t > FINAL_WAIT_S + 1e-9  # the answer did not wait longer either
            if expired or unsaid.ended is not None and unsaid.ended.final.done():
                state.unsaid.remove(unsaid)
                if not expired:
                    take_back_if_too_soon(state, unsaid)

    def _at_end(self, state: ConversationState, candidates: list[Decision]) -> None:
        """The end of the stream: short segments still waiting to ride with a caption get their own; the count is
        reported."""
        captioned = any(c.responds and c.task is Task.TRANSCRIBE for c in candidates)
        riders = None if captioned or state.task.mode is not Mode.TRANSCRIBE else captions.riders_at_end(state.captions)
        if riders is not None:
            candidates.insert(0, riders)
        if state.task.count_sound:
            candidates.append(self.sound_tasks.count_report(state.task, state.sounds, "end of stream"))

    @staticmethod
    def _short_segment(obs: Observation, state: ConversationState, rules: Decision) -> None:
        """In transcription mode, a segment that closed with no partial text gets no caption of its own from the
        rules; it rides with the next one (captions.py), so its final text is not lost from the captions."""
        ended = obs.asr.ended if obs.asr is not None else None
        if ended is not None and state.task.mode is Mode.TRANSCRIBE and not ended.last_partial.strip() \
                and not (rules.responds and rules.task is Task.TRANSCRIBE):
            captions.ride(state.captions, ended)

    # ---- the learned clock (captions and sound notices; answers wait in `_deferred_answer`) ----
    @staticmethod
    def _wait_for_clock(state: ConversationState, rules: Decision, t: float) -> None:
        """A transcript or a non-urgent sound response from the rules waits for the clock (urgent ones never do)."""
        if rules.task is Task.TRANSCRIBE:
            captions.hold(state.captions, rules.payload["segment"], t)  # pieces of one sentence join (captions.py)
        else:
            state.sound_held = (rules, t)  # a doorbell or a cough

    def _clock_says(self, obs: Observation, state: ConversationState,
                    pause: float) -> tuple[Decision | None, Decision | None]:
        """The caption and the sound response that waited for the clock and are due now (the model says so, or they
        waited long enough), or None. As judge, the open segment's caption may go at its pause (captions.py)."""
        t, sound = obs.chunk.t1, None
        speaking = state.segment is not None or (obs.vad is not None and obs.vad.speech)
        confirmed = state.timing.caption_confirms and not (self.timing.decides and captions.ends_open(state.captions))
        caption = captions.release(state.captions, t, confirmed, speaking, self.timing.caption_wait_s,
                                   bool(obs.extra.get("end_of_stream")), self.timing.caption_hold_s)
        if caption is None and self.timing.decides and state.task.mode is Mode.TRANSCRIBE \
                and state.timing.caption_confirms and state.segment is not None and pause >= captions.PAUSE_S - 1e-9:
            caption = captions.release_at_pause(state.captions, state.segment, state.texts.get(state.segment, ""),
                                                state.confidence)
        if caption is not None:
            caption = captions.with_riders(state.captions, caption)
        if state.sound_held is not None and (state.timing.confirms
                                             or t - state.sound_held[1] >= self.timing.defer_max_s):
            sound, state.sound_held = state.sound_held[0], None
        return caption, sound

    # ---- speech ----
    def _track_voice(self, obs: Observation, state: ConversationState) -> float:
        """Seconds of pause at the end of this chunk (0 while voiced); keeps the speech levels."""
        if obs.vad is None:
            return 0.0
        return voice.track(state.voice, obs.chunk.samples, obs.vad.probs, obs.chunk.t1)

    def _spoken(self, obs: Observation, state: ConversationState, pause: float) -> Decision | None:
        """The decision about what was just said, at a pause or at the segment's close; None if none is due."""
        asr = obs.asr
        if asr is not None and asr.partial is not None:
            state.segment, state.seg_t0 = asr.partial.segment, asr.partial.t0
            state.texts[asr.partial.segment] = asr.partial.text
            state.confidence = asr.partial.confidence
            state.lang = asr.partial.lang
        ended: SegmentEnd | None = asr.ended if asr is not None else None
        if ended is None and state.awaiting is not None and state.awaiting.final.done():
            ended, state.awaiting = state.awaiting, None  # the final text is in: judge the segment again with it
            settle(state, ended)
            if voiced(obs) or state.segment is not None:
                return None  # the speaker went on; a reply now would cut in (jfk.flac's "what your country can do")
            decision = self._judge(obs, state, ended.segment, ended.settled_text(), ended)
            if not sentence.is_filler(ended.settled_text()):  # a filler ("Let me see.") keeps the sentence before open
                self._keep_open(state, ended, ended.settled_text())  # "... Fahrenheit to?": the next piece joins it
            return decision
        if ended is not None:
            state.seg_t0 = ended.t0
            text = ended.settled_text() or state.texts.get(ended.segment, "")
            state.texts.pop(ended.segment, None)
            decision = self._judge(obs, state, ended.segment, text, ended)
            if not ended.final.done() and ended.segment not in state.decided:
                state.awaiting = ended  # tiny.en's text said nothing to do; Whisper base may hear a question
            self._close_speech(state, ended, text)
            return decision
        clock_now = state.timing is not None and state.timing.ready
        if state.segment is not None and pause >= (CLOCK_PAUSE_S if clock_now else QUESTION_PAUSE_S) - 1e-9 \
                and state.segment in state.texts:
            return self._judge(obs, state, state.segment, state.texts[state.segment], None)
        return None

    def _judge(self, obs: Observation, state: ConversationState, segment: int, text: str,
               ended: SegmentEnd | None) -> Decision | None:
        lang = final_lang(ended.final) if ended is not None and ended.final.done() else state.lang
        if ended is not None and state.task.mode is Mode.TRANSLATE and not text.strip() and not ended.final.done() \
                and segment not in state.decided:  # too short for a partial: held until its final text is in
            return self._translate(state, ended, text, obs.chunk.t1)
        if segment in state.decided or not text.strip() or sentence.is_filler(text, lang):
            return None  # a filler ("you know") neither ends the sentence before it nor is one
        partial = state.confidence if ended is None else ended.last_confidence
        if (ended is None or not ended.final.done()) and sentence.may_go_on(text, partial):
            return None  # judged again with the final text (`awaiting`)
        t = obs.chunk.t1
        instruction = parse(text)
        if instruction is not None:
            state.decided.append(segment)
            said = ended.t1 if ended is not None else state.voice.last_voiced_t
            return self._instruct(state, instruction, t, "speech", segment, said)
        mode = state.task.mode
        if mode is Mode.TRANSLATE:
            return None if ended is None else self._translate(state, ended, text, t)
        if mode is not Mode.ASSISTANT:
            return None
        head = carried_text(state, ended)
        # the sentence of an answer taken back: the model's yes to it stands
        resumed = bool(state.taken_back) and tuple(utt.words_of(head)[: len(state.taken_back)]) == state.taken_back
        full = sentence.join(head, text)
        heard = utt.analyse(full, lang, names=self.names)
        if sentence.still_open(head, text, lang):
            return None if ended is None else Decision.silent(f"not addressed: unfinished ({full[-24:]!r})")
        if heard.kind is utt.Kind.STATEMENT:
            return None if ended is None else Decision.silent(f"not addressed: {heard.kind.value}")
        state.decided.append(segment)
        state.carry, state.taken_back = None, ()  # the sentence is whole
        if not heard.addressed:
            return Decision.silent(f"not addressed: {heard.why}")
        level = voice.segment_level(state.voice, None if ended is None else segment)
        if voice.is_background(level, state.voice, t):
            return Decision.silent(f"background talk ({level:.0f} dBFS, reference "
                                   f"{voice.reference(state.voice, t):.0f})")
        return self._answer(obs, state, full, heard, segment, text, confirmed=resumed or heard.named, lang=lang)

    def _translate(self, state: ConversationState, ended: SegmentEnd, text: str, t: float) -> Decision:
        """A closed segment into the target language. A piece that does not end its sentence (cut at the segment
        length limit, or no final punctuation: a pause mid-sentence) waits for the next piece, and the two are
        translated together: half a sentence translates badly. As judge, the model confirms a translation as it
        does a caption; until it does, the pieces wait and the next piece joins them (a pause the recognizer closed
        with a full stop, "I was thinking about. | The trip")."""
        state.decided.append(ended.segment)
        before, state.held = state.held, []
        if not before and (ended.cut or not utt.ends_sentence(text)):
            state.held, state.held_at, state.held_for_model = [ended], t, False
            return Decision.silent(f"segment {ended.segment} ends mid-sentence: translated with the next piece")
        if self.timing is not None and self.timing.decides and not state.timing.caption_confirms \
                and ended.t1 - (before or [ended])[0].t0 < captions.CAPTION_HOLD_MAX_S:
            state.held, state.held_at, state.held_for_model = [*before, ended], t, True
            return Decision.silent(f"segment {ended.segment}: the translation waits for the decision model")
        return translation_decision(state, [*before, ended], "closed")

    def _held_translation(self, obs: Observation, state: ConversationState) -> Decision | None:
        """Held pieces translated without another piece: the model confirms them (as judge), the stream ends, or a
        piece ending mid-sentence found no continuation (it was all noise, or the stream paused)."""
        if not state.held or state.segment is not None:  # (voice activity alone may be noise: a segment is speech)
            return None
        if obs.extra.get("end_of_stream"):
            why = "end of stream"
        elif state.held_for_model:
            why = "the decision model" if state.timing is not None and state.timing.caption_confirms else ""
        else:
            why = "nothing followed" if obs.chunk.t1 - state.held_at >= HELD_MAX_S \
                else "its final text ends the sentence" if final_ends_sentence(state.held[-1]) else ""
        if not why:
            return None
        pieces, state.held = state.held, []
        return translation_decision(state, pieces, why) if state.task.mode is Mode.TRANSLATE else None

    def _answer(self, obs: Observation, state: ConversationState, text: str, heard: utt.Heard,
                segment: int, own: str, confirmed: bool = False, lang: str | None = None) -> Decision | None:
        """`text`: the question (with an unfinished sentence before it joined); `own`: its segment's text as judged,
        which the responder replaces by the segment's final text if that comes soon (respond/answer.py).
        `confirmed`: the question ends a sentence whose answer was taken back for coming too soon; the model's yes
        to it stands, and the answer is not deferred again."""
        t = obs.chunk.t1
        if heard.about is utt.About.COUNT and state.task.count_sound:
            return self.sound_tasks.count_report(state.task, state.sounds, "asked for the count")
        if self.sound_tasks.wait_for_music(state.sounds, text, t, heard.about):
            return Decision.silent("question about music: listening first")  # "what style is the music below?"
        answer = Decision.respond(Task.ANSWER, f"question ends (segment {segment})", question=text,
                                  about=heard.about.value, question_segment=segment, segment_text=own, lang=lang,
                                  **self.sound_tasks.context(state.task, state.sounds))
        if state.timing is not None and not state.timing.confirms and not confirmed:
            state.deferred = (answer, t, segment, state.texts.get(segment, ""))
            return Decision.silent("question: waiting for the decision model")
        return answer

    def _deferred_answer(self, obs: Observation, state: ConversationState) -> Decision | None:
        """An answer held for the learned clock: given when the model says so (or after DEFER_MAX_S), dropped if the
        speaker goes on first (speech starts again, or the segment's text grows); the longer sentence is then judged
        again."""
        if state.deferred is None:
            return None
        answer, since, segment, heard = state.deferred
        if obs.chunk.t1 <= since:
            return None  # deferred in this very chunk, whose start may still hold the question's last word
        grown = state.texts.get(segment, heard) != heard
        if voiced(obs) or grown or state.segment not in (None, segment):
            state.deferred = None
            if segment in state.decided:
                state.decided.remove(segment)
            if not grown:  # a new segment goes on with it: judged together, as a sentence broken by a pause
                question = answer.payload["question"]
                own = segment if question == answer.payload["segment_text"] else -1  # no sentence joined before it
                state.carry = sentence.Unfinished("", question, since, own)
            return None
        if self.timing.decides:  # the model judges: one it never confirms is not given
            joined = answer.payload["question"] != answer.payload["segment_text"]  # ends a sentence broken by a pause
            due = state.timing.armed and (state.timing.joined_confirms if joined else state.timing.confirms)
        else:
            due = state.timing.confirms or obs.chunk.t1 - since >= self.timing.defer_max_s - 1e-6
        if due:
            state.deferred = None
            return answer
        return None

    def _close_speech(self, state: ConversationState, ended: SegmentEnd, text: str) -> None:
        """After a segment: keep a sentence it leaves open for the next one (a filler keeps the one before open);
        remember its level."""
        if sentence.is_filler(text):
            if state.carry is not None:
                state.carry = dataclasses.replace(state.carry, t1=ended.t1)
        else:
            self._keep_open(state, ended, text)
        voice.close_segment(state.voice, ended.segment, ended.t1)
        state.segment = None

    @staticmethod
    def _keep_open(state: ConversationState, ended: SegmentEnd, text: str) -> None:
        """A segment not answered whose text (`text`) leaves its sentence open is kept for the next piece."""
        if ended.segment not in state.decided:
            head = carried_text(state, ended)
            if sentence.still_open(head, text):
                state.carry = sentence.Unfinished(head, text, ended.t1, ended.segment)

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
