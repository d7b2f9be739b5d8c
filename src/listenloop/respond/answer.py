"""Answers: a question addressed to the assistant becomes a short spoken reply from the language model.

The prompt carries what the session heard (recent final transcripts, recent sound events, the running count, the
music's genres and instruments) and a bounded rolling window of earlier turns, so "what was that noise?" and
follow-up questions work, while an hour-long session keeps a prompt of the same size. Fixed texts
(acknowledgements, count reports) come in the decision's payload and need no model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from listenloop.decision.base import Emotion, Task
from listenloop.respond.base import ResponseContext, ResponseRequest
from listenloop.respond.llm import ChatMessage, Generation, LlmBackend, Role

SYSTEM_PROMPT = (
    "You are listenloop, a voice assistant that hears a live audio stream through a microphone. "
    "You know only what the notes below say about what was heard. Reply in one or two short spoken sentences: "
    "no lists, no code, no markdown."
)
# The emotion tag comes from the decision (a cough is "concerned", an alarm "urgent"). Asking the 0.5B model to begin
# with a tag made it answer with the tag alone, so none is asked for; a leading tag a larger model writes is still
# taken off and used (strip_emotion_tag).
PROMPT_TRANSCRIPTS = 3  # recent final transcripts in the prompt (prefill time is most of the first token)
PROMPT_SOUNDS = 4  # recent sound onsets in the prompt
PROMPT_TURNS = 3  # earlier question/answer pairs in the prompt (rolling window: bounded prompt, flat latency)
ANSWER_TOKENS = 80  # ~ two spoken sentences
TAG_MAX_CHARS = 16  # a reply's leading "[emotion]" tag is at most this long
TAG = re.compile(r"^\s*\[\s*([a-zA-Z]+)\s*\]\s*")


@dataclass(frozen=True)
class Turn:
    """One exchange kept in the session's rolling memory."""

    question: str
    answer: str
    interrupted: bool = False


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

    def __init__(self, llm: Callable[[], LlmBackend]) -> None:
        self._llm = llm
        self._fixed = FixedTextResponder(Task.ANSWER)

    def run(self, request: ResponseRequest, ctx: ResponseContext) -> Iterator[str]:
        payload = request.decision.payload
        if "text" in payload:
            yield from self._fixed.run(request, ctx)
            return
        question = str(payload.get("question", "")).strip()
        ctx.extra["question"] = question
        canned = _direct_answer(payload)
        if canned:
            pieces: Iterator[str] = iter([canned])
        else:
            messages = build_messages(question, payload, ctx.session)
            pieces = self._llm().stream(messages, Generation(max_tokens=ANSWER_TOKENS))
        answer: list[str] = []
        try:
            for piece in strip_emotion_tag(pieces, ctx):
                answer.append(piece)
                yield piece
                if ctx.cancelled.is_set():
                    break
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # ends the generation and frees the model for the next response
            remember(ctx.session, Turn(question, "".join(answer).strip(), ctx.cancelled.is_set()))


def _direct_answer(payload: dict) -> str:
    """Questions about the music are answered from the tagger's genres and instruments, not guessed by the model."""
    if payload.get("about") != "music":
        return ""
    music = payload.get("music") or {}
    genres = [g.lower().replace(" music", "") for g in music.get("genres", [])]
    instruments = [i.lower() for i in music.get("instruments", [])]
    if not genres and not instruments:
        return "I don't hear any music clearly enough to tell its style."
    style = f"It sounds like {' or '.join(genres)} music" if genres else "It sounds like instrumental music"
    return style + (f", with {' and '.join(instruments)}." if instruments else ".")


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


def build_messages(question: str, payload: dict, session) -> list[ChatMessage]:
    """System prompt, earlier turns, then the notes about what was heard and the question."""
    messages = [ChatMessage(Role.SYSTEM, SYSTEM_PROMPT)]
    memory = getattr(session, "memory", None)
    for turn in list(getattr(memory, "turns", ()))[-PROMPT_TURNS:]:
        messages.append(ChatMessage(Role.USER, turn.question))
        messages.append(ChatMessage(Role.ASSISTANT, turn.answer + (" (interrupted)" if turn.interrupted else "")))
    notes = heard_notes(question, payload, memory)
    content = (notes + "\n\n" if notes else "") + f"Question: {question}"
    messages.append(ChatMessage(Role.USER, content))
    return messages


def heard_notes(question: str, payload: dict, memory) -> str:
    lines = []
    transcripts = [t for t in list(getattr(memory, "transcripts", ()))[-PROMPT_TRANSCRIPTS - 1:]
                   if t.text.strip() and t.text.strip() != question]
    if transcripts:
        lines.append("Recently said: " + " / ".join(f"({t.t0:.0f} s) {t.text.strip()}"
                                                  for t in transcripts[-PROMPT_TRANSCRIPTS:]))
    sounds = [s for s in list(getattr(memory, "sounds", ())) if s.state == "start" and s.label != "Speech"]
    if sounds:
        lines.append("Sounds heard: " + ", ".join(f"{s.label} at {s.t0:.0f} s" for s in sounds[-PROMPT_SOUNDS:]))
    if "counted" in payload:
        lines.append(f"Counted so far: the {payload['counted']}, {payload.get('count', 0)} times.")
    music = payload.get("music") or {}
    if music.get("genres") or music.get("instruments"):
        lines.append(f"Music heard: genre {', '.join(music.get('genres', [])) or 'unclear'}; "
                     f"instruments {', '.join(music.get('instruments', [])) or 'unclear'}.")
    return "\n".join(lines)


def remember(session, turn: Turn) -> None:
    memory = getattr(session, "memory", None)
    turns = getattr(memory, "turns", None)
    if turns is not None and turn.question:
        turns.append(turn)
