"""Answers: a question addressed to the assistant becomes a short spoken reply from the language model.

The prompt carries what the session heard (recent final transcripts, recent sound events, the running count, the
music's genres and instruments) and a bounded window of earlier turns, so "what was that noise?" and follow-up
questions work, while an hour-long session keeps a prompt of bounded size. Fixed texts (acknowledgements, count
reports) come in the decision's payload and need no model.

Time to the first token is mostly prefill, and llama.cpp keeps the longest common token prefix with its previous
evaluation. So the prompt only grows at its end: the fixed system prompt first, then earlier turns exactly as they
were sent (each question with the notes heard before it), then the new notes and question. The window of earlier
turns moves in steps, not one turn at a time, and the start of the next prompt is evaluated in the background
(`prefill`): after each reply, and again whenever something new was heard, up to where the question goes. A question
then costs only its own tokens. The KV cache holds one prompt, so this is done only while one session uses the model:
with several, each prefill evicted another's and four sessions' prefills took a core and a half of two
(docs/benchmarks/scaling.md); their questions pay for their notes and earlier turns instead.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from listenloop.decision.text import sentence
from listenloop.decision.text.instructions import LANGUAGE_NAMES
from listenloop.perception.language import ENGLISH, SPOKEN
from listenloop.respond.base import Listening, ResponseContext, ResponseRequest
from listenloop.respond.heard import heard_answer
from listenloop.respond.llm import ChatMessage, Generation, LlmBackend, LlmError, Role
from listenloop.respond.memory import Memory
from listenloop.vocabulary import Emotion, Mode, Task

ASSISTANT_NAME = "listenloop"  # the name the model gives itself when the session was given none
SYSTEM_PROMPT_FORM = (
    "You are {name}, a voice assistant that hears a live audio stream through a microphone. "
    "You know only what the notes below say about what was heard. Reply in one or two short spoken sentences: "
    "no lists, no code, no markdown."
)
SYSTEM_PROMPT = SYSTEM_PROMPT_FORM.format(name=ASSISTANT_NAME)
# The emotion tag comes from the decision (a cough is "concerned", an alarm "urgent"). Asking the 0.5B model to begin
# with a tag made it answer with the tag alone, so none is asked for; a leading tag a larger model writes is still
# taken off and used (strip_emotion_tag).
# Notes list what was heard since the previous turn in the order it came in, so that they only grow at their end and
# stay prefilled. They begin at a transcript whose number moves in steps (as the turns' window does); at a move they
# are evaluated again. Notes kept as a line of transcripts and a line of sounds, each dropping its oldest entry at
# every new one, had the background prefill evaluate most of them at every transcript (21 prefills of 1.2 s in 60 s
# of speech: docs/benchmarks/conversation.md).
PROMPT_NOTES_MIN = 3  # transcripts kept when the window moves on
PROMPT_NOTES_STEP = 4  # the window moves every this many segments: 3 to 6 transcripts in a turn's notes
PROMPT_SOUNDS = 6  # sound onsets at most, the latest (a busy room's notes move at each new one past these)
NOTES_HEAD = "Recently heard:"  # the notes' lead; each note is "(T s) what was said" or "(T s) [sound: LABEL]"
PROMPT_TURNS_MIN = 1  # earlier question/answer turns kept when the window moves on
PROMPT_TURNS_STEP = 3  # the window moves every this many turns: 1 to 3 earlier turns, a prompt prefix that holds
QUESTION_LEAD = "Question:"  # the question's line starts with this (prefilled with the notes before it is asked)
HEARD_PREFILL_S = 0.5  # s between looks at what the session heard, to prefill it before a question comes
ANSWER_TOKENS = 80  # ~ two spoken sentences
REPLY_IN = "Reply in {}."  # after a question in another language than English
TAG_MAX_CHARS = 16  # a reply's leading "[emotion]" tag is at most this long
TAG = re.compile(r"^\s*\[\s*([a-zA-Z]+)\s*\]\s*")


@dataclass(frozen=True)
class Turn:
    """One exchange kept in the session's rolling memory."""

    question: str
    answer: str
    interrupted: bool = False
    prompt: str = ""  # the user message the model was given (notes and question), repeated as is in later prompts
    t: float = 0.0  # s, stream time of the question's decision
    number: int = 0  # turns before this one in the session (the window moves by it)


class FixedTextResponder:
    """Says the decision's payload `text` (acknowledgements, count reports): no model, no delay."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def run(self, request: ResponseRequest, ctx: ResponseContext) -> Iterator[str]:
        text = str(request.decision.payload.get("text", ""))
        for key in ("count", "counted"):
            if key in request.decision.payload:
                ctx.extra[key] = request.decision.payload[key]
        if text and not ctx.cancelled.is_set():
            yield text


class AnswerResponder:
    """Streams the language model's reply to an addressed question; `llm` is called once, on first use."""

    task = Task.ANSWER

    def __init__(self, llm: Callable[[], LlmBackend],
                 background: Callable[[Callable[[], Any]], None] | None = None,
                 alone: Callable[[], bool] = lambda: True) -> None:
        self._llm = llm
        self._background = background  # runs a prefill off the response worker; None: no prefill
        self._alone = alone  # whether one conversation uses the model now: the KV cache holds one prompt, so with
        # several, each prefill would evict another's and the engine would spend a core evaluating prompts again
        self._fixed = FixedTextResponder(Task.ANSWER)
        self._turn = threading.Lock()  # held by an answer from its prompt to its turn in memory; prefills wait

    def keep_prefilled(self, listening_ref: weakref.ref, stop: threading.Event) -> None:
        """Whenever the stream heard something new, evaluate its next prompt up to where the question goes (system
        prompt, earlier turns, notes), so that a question evaluates only its own tokens. Runs until `stop` is set or
        the session (a Listening) is gone (held weakly: a session dropped without finish() is not kept alive);
        skips a look while an answer is being written or when the session is not an assistant."""
        done = None
        while not stop.wait(HEARD_PREFILL_S):
            listening = listening_ref()
            if listening is None:
                return
            done = self._prefill_heard(listening, done)
            del listening

    def _prefill_heard(self, listening: Listening, done: list[ChatMessage] | None) -> list[ChatMessage] | None:
        if not self._alone():
            return None  # another session's prompt took the cache: evaluated again once this one is alone
        if listening.mode is not Mode.ASSISTANT or not self._turn.acquire(blocking=False):
            return done
        try:
            messages = next_prompt_start(listening.response_context())
            if messages != done:
                _prefill(self._llm, messages, open_last=True)
            return messages
        finally:
            self._turn.release()

    def prefill(self, ctx: ResponseContext) -> None:
        """Evaluate the start of the stream's next prompt now (system prompt and earlier turns), in the background."""
        if self._background is None or not self._alone():
            return
        messages = history_messages(ctx, next_turn_number(ctx))
        self._background(lambda: _prefill(self._llm, messages))

    def run(self, request: ResponseRequest, ctx: ResponseContext) -> Iterator[str]:
        payload = request.decision.payload
        if "text" in payload:
            yield from self._fixed.run(request, ctx)
            return
        question = _with_final_text(str(payload.get("question", "")).strip(), payload, ctx)
        if ctx.cancelled.is_set() or question is None:
            return  # stopped (barge-in) while it waited for the final text, or taken back: nothing said or remembered
        ctx.extra["question"] = question
        ctx.extra.setdefault("lang", payload.get("lang") or ENGLISH)
        with self._turn:
            yield from self._answer(question, request, ctx)

    def _answer(self, question: str, request: ResponseRequest, ctx: ResponseContext) -> Iterator[str]:
        payload = request.decision.payload
        canned = heard_answer(question, payload, ctx.memory, request.t)
        messages = build_messages(question, {**payload, "lang": ctx.extra.get("lang")}, ctx, request.t)
        backend = None
        if canned:
            pieces: Iterator[str] = iter([canned])
        else:
            backend = self._llm()
            pieces = backend.stream(messages, Generation(max_tokens=ANSWER_TOKENS))
        answer: list[str] = []
        try:
            for piece in strip_emotion_tag(pieces, ctx):
                if not answer:
                    _note_prompt(backend, ctx)
                answer.append(piece)
                yield piece
                if ctx.cancelled.is_set():
                    break
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # ends the generation and frees the model for the next response
            remember(ctx, Turn(question, "".join(answer).strip(), ctx.cancelled.is_set(), messages[-1].content,
                               request.t, next_turn_number(ctx)))
            self.prefill(ctx)


def _with_final_text(question: str, payload: dict, ctx: ResponseContext) -> str | None:
    """The question with its segment's text replaced by the segment's final text, if that comes within
    QUESTION_WAIT_S (respond/finals.py): a question judged at a pause was heard by tiny.en ("What is the capital of
    friend?"), and Whisper base's final usually follows within a few hundred ms ("... of France?"). None when the
    final text shows the sentence goes on ("... from Paris to?"): the answer came too soon, and the policy takes it
    back (decision/conversation.py `_take_back`)."""
    own, segment = str(payload.get("segment_text", "")).strip(), payload.get("question_segment")
    if segment is None or not own or not question.endswith(own):
        return question
    final = ctx.finals.question(int(segment), ctx.cancelled) if ctx.finals is not None else None
    if final is None or final.lang not in (None, *SPOKEN):
        return question
    ctx.extra["lang"] = final.lang or ctx.extra.get("lang")
    if sentence.answered_too_soon(question, own, final.text):
        return None
    if final.text != own:
        ctx.extra["heard_partial"] = own
    return f"{question[: len(question) - len(own)]}{final.text}".strip()


def _note_prompt(backend: LlmBackend | None, ctx: ResponseContext) -> None:
    """How many prompt tokens the model evaluated and how many came from its cache, into the response's extra."""
    stats = getattr(backend, "last_prompt", None)
    if stats is not None:
        ctx.extra["prompt_tokens"], ctx.extra["cached_tokens"] = stats.tokens, stats.cached


def _prefill(llm: Callable[[], LlmBackend], messages: list[ChatMessage], open_last: bool = False) -> None:
    """A prefill only saves time: a model that cannot be loaded is reported by the answer that needs it."""
    try:
        prefill = getattr(llm(), "prefill", None)
    except LlmError:
        return
    if prefill is not None:
        prefill(messages, open_last=open_last)


def strip_emotion_tag(pieces: Iterator[str], ctx: ResponseContext) -> Iterator[str]:
    """Pass text through, taking a leading "[emotion]" tag off into ctx.extra["emotion"]."""
    head = ""
    for piece in pieces:
        if head is None:
            yield piece
            continue
        head += piece
        if head.lstrip().startswith("[") and "]" not in head and len(head) < TAG_MAX_CHARS:
            continue
        match = TAG.match(head)
        if match and match.group(1).lower() in {e.value for e in Emotion}:
            ctx.extra["emotion"] = match.group(1).lower()
        rest = TAG.sub("", head, count=1) if match else head
        head = None
        if rest:
            yield rest
    if head:
        yield head


def build_messages(question: str, payload: dict, ctx: ResponseContext, t: float = 0.0) -> list[ChatMessage]:
    """System prompt, earlier turns as they were sent, then the notes heard since the last turn and the question."""
    messages = history_messages(ctx, next_turn_number(ctx))
    turns = list(ctx.memory.turns)
    since = turns[-1].t if turns else float("-inf")
    notes = heard_notes(question, payload, ctx.memory, since, t)
    content = (notes + "\n\n" if notes else "") + f"{QUESTION_LEAD} {question}"
    lang = payload.get("lang")
    if lang not in (None, ENGLISH):  # answered in the language it was asked in
        content += f"\n({REPLY_IN.format(LANGUAGE_NAMES.get(lang, lang))})"
    messages.append(ChatMessage(Role.USER, content))
    return messages


def next_prompt_start(ctx: ResponseContext) -> list[ChatMessage]:
    """The next answer's prompt as far as it is known before the question: its last message stops at QUESTION_LEAD."""
    messages = history_messages(ctx, next_turn_number(ctx))
    turns = list(ctx.memory.turns)
    notes = heard_notes("", {}, ctx.memory, turns[-1].t if turns else float("-inf"))
    messages.append(ChatMessage(Role.USER, (notes + "\n\n" if notes else "") + QUESTION_LEAD))
    return messages


def history_messages(ctx: ResponseContext, number: int) -> list[ChatMessage]:
    """The prompt's fixed start for the turn with this number: the system prompt and the window's earlier turns.

    The window holds the turns from `first` on, where `first` moves only every PROMPT_TURNS_STEP turns, so between
    moves each prompt begins with the previous one (cached by llama.cpp) and the prompt stays bounded."""
    first = max(0, number - PROMPT_TURNS_MIN - (number - PROMPT_TURNS_MIN) % PROMPT_TURNS_STEP)
    messages = [ChatMessage(Role.SYSTEM, SYSTEM_PROMPT_FORM.format(name=ctx.name or ASSISTANT_NAME))]
    for turn in list(ctx.memory.turns):
        if turn.number >= first:
            messages.append(ChatMessage(Role.USER, turn.prompt or f"{QUESTION_LEAD} {turn.question}"))
            messages.append(ChatMessage(Role.ASSISTANT, turn.answer))  # as said: no marker the model could copy
    return messages


def next_turn_number(ctx: ResponseContext) -> int:
    turns = ctx.memory.turns
    return turns[-1].number + 1 if turns else 0


def heard_notes(question: str, payload: dict, memory: Memory, since: float = float("-inf"),
                until: float = float("inf")) -> str:
    """What was heard after `since` (the previous turn) and up to `until` (this question), as short notes."""
    transcripts = _window([t for t in list(memory.transcripts) if since < t.t1 <= until and t.text.strip()])
    begin = transcripts[0].t1 if transcripts else since  # sounds heard before the first transcript kept go with it
    sounds = [s for s in list(memory.sounds)
              if s.state == "start" and s.label != "Speech" and max(since, begin) < s.t0 <= until]
    heard = [(t.t1, t.t0, t.text.strip()) for t in transcripts if t.text.strip() != question]
    heard += [(s.t0, s.t0, f"[sound: {s.label}]") for s in sounds[-PROMPT_SOUNDS:]]
    heard.sort(key=lambda note: note[0])  # in the order they came in (a transcript at its end): appended only
    lines = [NOTES_HEAD + " " + " / ".join(f"({t0:.0f} s) {note}" for _, t0, note in heard)] if heard else []
    if "counted" in payload:
        lines.append(f"Counted so far: the {payload['counted']}, {payload.get('count', 0)} times.")
    music = payload.get("music") or {}
    if music.get("genres") or music.get("instruments"):
        lines.append(f"Music heard: genre {', '.join(music.get('genres', [])) or 'unclear'}; "
                     f"instruments {', '.join(music.get('instruments', [])) or 'unclear'}.")
    return "\n".join(lines)


def _window(transcripts: list) -> list:
    """The latest transcripts, from the one whose segment number is the window's first: it moves every
    PROMPT_NOTES_STEP segments, so PROMPT_NOTES_MIN to PROMPT_NOTES_MIN + PROMPT_NOTES_STEP - 1 are kept. By the
    stream's own segment numbers, not by position in the bounded memory, which drops one at each new one once full.
    The question's own transcript counts, so the prompt prefilled before a question and the question's prompt start
    their notes at the same one."""
    if not transcripts:
        return transcripts
    extra = transcripts[-1].segment + 1 - PROMPT_NOTES_MIN
    first = extra - extra % PROMPT_NOTES_STEP if extra > 0 else 0
    return [t for t in transcripts if t.segment >= first]


def remember(ctx: ResponseContext, turn: Turn) -> None:
    if turn.question:
        ctx.memory.turns.append(turn)
