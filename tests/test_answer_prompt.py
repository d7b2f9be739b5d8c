"""Answer prompts grow only at their end, so llama.cpp's KV cache serves all but the new question's tokens."""

from __future__ import annotations

import threading
import time
import weakref

import pytest

from listenloop.decision.base import Decision
from listenloop.perception.observation import FinalText
from listenloop.respond.answer import (
    HEARD_PREFILL_S,
    PROMPT_NOTES_MIN,
    PROMPT_NOTES_STEP,
    SYSTEM_PROMPT,
    AnswerResponder,
    Turn,
    build_messages,
    history_messages,
    next_prompt_start,
)
from listenloop.respond.base import ResponseContext, ResponseRequest
from listenloop.respond.llm import EVAL_BLOCK_TOKENS, ChatMessage, Generation, Role, load_backend
from listenloop.respond.memory import Memory
from listenloop.runtime.events import SoundEvent
from listenloop.vocabulary import Mode, Task

QUESTIONS = ("What is the tallest mountain in the world?", "How many days are there in a week?",
             "What is the capital of Italy?")


class Listener:
    """A stream as a responder's background prefill sees it (respond/base.py Listening): an assistant, and the
    context of its responses with the real bounded Memory."""

    mode = Mode.ASSISTANT

    def __init__(self) -> None:
        self.memory = Memory()

    def response_context(self) -> ResponseContext:
        return ResponseContext(memory=self.memory)


def heard(listener: Listener, text: str, t0: float, t1: float) -> None:
    held = listener.memory.transcripts
    listener.memory.transcripts.append(FinalText(held[-1].segment + 1 if held else 0, t0, t1, text, "en"))


def test_each_prompt_begins_with_the_previous_one_until_the_window_moves_in_steps():
    listener, previous, moved = Listener(), None, []
    for n in range(10):
        heard(listener, f"Something said before question {n}.", 10.0 * n, 10.0 * n + 2)
        messages = build_messages(f"Question number {n}?", {}, listener.response_context(), 10.0 * n + 5)
        assert messages[0] == ChatMessage(Role.SYSTEM, SYSTEM_PROMPT)
        assert len(messages) <= 1 + 2 * 3 + 1  # bounded: at most three earlier turns
        assert f"before question {n}." in messages[-1].content  # what was heard since the last turn
        assert n == 0 or f"before question {n - 1}." not in messages[-1].content  # ... and only that
        if previous is not None and messages[: len(previous)] != previous:
            moved.append(n)
        answer = f"Answer number {n}."
        listener.memory.turns.append(Turn(f"Question number {n}?", answer, False, messages[-1].content,
                                          10.0 * n + 5, n))
        previous = messages + [ChatMessage(Role.ASSISTANT, answer)]
        following = history_messages(listener.response_context(), n + 1)
        assert following in (previous, previous[:1] + previous[-2:])  # prefilled next
    assert moved == [4, 7]  # the window of earlier turns moves every third turn, not at every turn


def test_notes_grow_at_their_end_and_their_window_moves_in_steps():
    """Before a question, the background prefill evaluates what is new in the notes. With a line of transcripts and a
    line of sounds, each dropping its oldest entry at every new one, every transcript made it evaluate most of the
    notes again. Now they only grow at their end, and move every few segments, also once the bounded memory is full
    and drops one transcript at each new one."""
    listener, previous, moved = Listener(), "", []
    for n in range(40):
        heard(listener, f"Sentence number {n} was said here.", 3.0 * n, 3.0 * n + 2)
        if n % 3 == 1:  # a sound after every third transcript
            listener.memory.sounds.append(SoundEvent(3.0 * n + 2.5, None, f"Knock {n}", 0.9, "start"))
        notes = next_prompt_start(listener.response_context())[-1].content.removesuffix("Question:").strip()
        shown = notes.count("Sentence number")
        assert notes.endswith((f"number {n} was said here.", f"[sound: Knock {n}]"))
        assert min(n + 1, PROMPT_NOTES_MIN) <= shown <= PROMPT_NOTES_MIN + PROMPT_NOTES_STEP - 1
        if not notes.startswith(previous):
            moved.append(n)
        previous = notes
    first = PROMPT_NOTES_MIN + PROMPT_NOTES_STEP - 1  # the segment at which the window first moves
    assert moved == list(range(first, 40, PROMPT_NOTES_STEP))  # every fourth transcript, not at each one


@pytest.fixture(scope="module")
def llm():
    return load_backend("qwen2.5-0.5b")


def test_prefilled_turns_are_reused_token_for_token_by_the_prompt_that_extends_them(llm):
    history = [ChatMessage(Role.SYSTEM, SYSTEM_PROMPT), ChatMessage(Role.USER, "Question: " + QUESTIONS[0]),
               ChatMessage(Role.ASSISTANT, "The tallest mountain in the world is Mount Everest.")]
    prompt = history + [ChatMessage(Role.USER, "Question: " + QUESTIONS[1])]
    other = [ChatMessage(Role.SYSTEM, "You are a translator.")]
    llm.prefill(other)  # something else in the cache
    cold = "".join(llm.stream(prompt, Generation(max_tokens=24)))
    assert llm.last_prompt.cached < 10
    llm.prefill(other)
    prefilled = llm.prefill(history)
    warm = "".join(llm.stream(prompt, Generation(max_tokens=24)))
    # the chat template renders the turns byte-identically; the cache is used up to its last whole block
    assert llm.last_prompt.cached == prefilled.tokens // EVAL_BLOCK_TOKENS * EVAL_BLOCK_TOKENS
    assert llm.last_prompt.tokens - llm.last_prompt.cached < 25 + EVAL_BLOCK_TOKENS  # only the new question
    assert warm == cold and ("7" in warm or "seven" in warm.lower())  # the cache changes nothing in the answer


def ask(responder: AnswerResponder, listener: Listener, question: str, t: float) -> tuple[str, dict]:
    request = ResponseRequest("r", Decision.respond(Task.ANSWER, question=question), 0, t, 0.0)
    ctx = listener.response_context()
    return "".join(responder.run(request, ctx)), ctx.extra


def test_notes_heard_before_a_question_are_prefilled_up_to_where_the_question_goes(llm):
    listener = Listener()
    heard(listener, "I went to the market yesterday and bought apples.", 1.0, 4.0)
    llm.prefill(next_prompt_start(listener.response_context()), open_last=True)
    messages = build_messages(QUESTIONS[0], {}, listener.response_context(), 10.0)
    assert "bought apples" in messages[-1].content
    answer = "".join(llm.stream(messages, Generation(max_tokens=24)))
    assert llm.last_prompt.tokens - llm.last_prompt.cached < 25 + EVAL_BLOCK_TOKENS  # the question (and a block)
    assert "everest" in answer.lower()


def test_follow_up_questions_evaluate_only_their_own_tokens_and_answers_stay_right(llm):
    responder = AnswerResponder(lambda: llm, background=lambda work: work())  # prefill inline, after each reply
    listener = Listener()
    heard(listener, "I went to the market yesterday and bought apples.", 1.0, 4.0)
    stop = threading.Event()
    watcher = threading.Thread(target=responder.keep_prefilled, args=(weakref.ref(listener), stop))
    watcher.start()  # what the engine runs beside an assistant session
    expected = ("everest", "7", "rome")
    try:
        for k, (question, word) in enumerate(zip(QUESTIONS, expected, strict=True)):
            heard(listener, f"Something said before question {k}.", 10.0 * k + 5, 10.0 * k + 7)
            time.sleep(4 * HEARD_PREFILL_S)  # a pause before the question: the watcher prefills what was heard
            answer, extra = ask(responder, listener, question, 10.0 * (k + 1))
            assert word in answer.lower().replace("seven", "7")
            assert extra["prompt_tokens"] - extra["cached_tokens"] < 25 + EVAL_BLOCK_TOKENS, extra  # in cache
    finally:
        stop.set()
        watcher.join()
    assert [t.question for t in listener.memory.turns] == list(QUESTIONS)


def test_the_same_prompt_gets_the_same_answer_however_its_prefills_were_timed(llm):
    """The demo once answered "What is the capital of France?" with "France is the capital of France.": the same
    prompt, evaluated in pieces that depended on when the background prefills ran, gave other numbers."""
    notes = ("Recently said: (1 s) Good morning. I am trying out a listening engine on my laptop. / (5 s) I have been "
             "reading about streaming speech models, and they are a lot of fun to build.")
    prompt = [ChatMessage(Role.SYSTEM, SYSTEM_PROMPT),
              ChatMessage(Role.USER, notes + "\n\nQuestion: What is the capital of France?")]
    opened = [prompt[0], ChatMessage(Role.USER, notes + "\n\nQuestion:")]
    answers = []
    for prefills in ([], [prompt[:1]], [prompt[:1], opened], [opened[:1] + [ChatMessage(Role.USER, notes[:40])]]):
        llm.prefill([ChatMessage(Role.SYSTEM, "You are a translator.")])  # something else in the cache
        for messages in prefills:
            llm.prefill(messages, open_last=messages[-1].role is Role.USER)
        answers.append("".join(llm.stream(prompt, Generation(max_tokens=40))))
    assert len(set(answers)) == 1, answers
    assert "paris" in answers[0].lower()


def test_no_prefill_while_another_conversation_shares_the_model(llm):
    """The KV cache holds one prompt: with several sessions on one engine, each prefill evicted another's and four
    sessions' prefills took most of two cores (docs/benchmarks/scaling.md). While another conversation is open the
    watcher evaluates nothing; once this one is alone, it prefills what was heard."""
    others = threading.Event()
    others.set()  # another session uses the model
    responder = AnswerResponder(lambda: llm, background=lambda work: work(), alone=lambda: not others.is_set())
    listener = Listener()
    heard(listener, "I went to the market yesterday and bought apples and pears.", 1.0, 4.0)
    llm.prefill([ChatMessage(Role.SYSTEM, "You are a translator.")])  # the other conversation's prompt
    held = list(llm._llm._input_ids)
    stop = threading.Event()
    watcher = threading.Thread(target=responder.keep_prefilled, args=(weakref.ref(listener), stop))
    watcher.start()
    try:
        time.sleep(4 * HEARD_PREFILL_S)
        assert list(llm._llm._input_ids) == held  # nothing evaluated for this session
        others.clear()  # the other session ended
        time.sleep(4 * HEARD_PREFILL_S)
        messages = build_messages(QUESTIONS[0], {}, listener.response_context(), 10.0)
        stats = llm.prefill(messages[:-1] + [ChatMessage(Role.USER, messages[-1].content.split("Question:")[0])])
        assert stats.cached > stats.tokens - EVAL_BLOCK_TOKENS  # the notes were evaluated in the background
    finally:
        stop.set()
        watcher.join()
