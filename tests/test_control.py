"""Barge-in as a control message on the stream's own lane (runtime/control.py): the response runner applies it to the
response in flight, which stops an answer but never a caption. The real responders, each waiting for a final text
that is still decoding (a Future the test resolves, standing for Whisper base's worker)."""

from __future__ import annotations

import time
from concurrent.futures import Future

import numpy as np
import pytest

from listenloop.decision.base import Decision
from listenloop.perception.observation import FinalText, SegmentEnd
from listenloop.respond.answer import AnswerResponder
from listenloop.respond.base import ResponseContext, ResponseRequest
from listenloop.respond.finals import QUESTION_WAIT_S, Finals
from listenloop.respond.memory import Memory
from listenloop.respond.transcribe import TranscribeResponder
from listenloop.runtime.control import Control, ControlKind, ControlLane
from listenloop.runtime.events import ResponseEvent
from listenloop.runtime.responses import ResponseRunner
from listenloop.vocabulary import Task

IN_FLIGHT_S = 0.3  # s given to the runner's thread to start the response


def runner_of(events: list) -> ResponseRunner:
    memory = Memory()
    finals = Finals(memory, lambda future: None, time.perf_counter())  # no segment will be heard
    responders = {Task.ANSWER: AnswerResponder(lambda: pytest.fail("the model is asked")),
                  Task.TRANSCRIBE: TranscribeResponder()}
    return ResponseRunner(responders, events.append, lambda: ResponseContext(memory=memory, finals=finals))


def barge_in(runner: ResponseRunner, t: float) -> None:
    lane = ControlLane()
    lane.put(Control(ControlKind.BARGE_IN, t))
    for control in lane.take():  # what the session's loop does in the chunk the policy heard the user in
        runner.apply(control)


def test_barge_in_stops_an_answer_waiting_for_its_final_text_at_once():
    events: list = []
    runner = runner_of(events)
    question = "What is the capital of France?"
    decision = Decision.respond(Task.ANSWER, "question ends", question=question, question_segment=5,
                                segment_text=question)
    started = time.monotonic()
    runner.submit(ResponseRequest("r1", decision, 3, 1.2, time.perf_counter()))
    time.sleep(IN_FLIGHT_S)
    barge_in(runner, 1.6)
    assert runner.wait_idle(QUESTION_WAIT_S)
    assert time.monotonic() - started < QUESTION_WAIT_S - 1.0  # stopped, not waited out
    assert not [e for e in events if isinstance(e, ResponseEvent)]  # nothing said
    runner.close()


def test_barge_in_never_cuts_a_caption():
    events: list = []
    runner = runner_of(events)
    final: Future = Future()  # the piece's final text, still decoding
    piece = SegmentEnd(0, 0.0, 1.2, np.zeros(16, np.float32), "the train leaves", final)
    runner.submit(ResponseRequest("r1", Decision.respond(Task.TRANSCRIBE, "segment closed", segment=piece), 3, 1.2,
                                  time.perf_counter()))
    time.sleep(IN_FLIGHT_S)
    barge_in(runner, 1.6)
    final.set_result(FinalText(0, 0.0, 1.2, "The train leaves.", "en"))
    assert runner.wait_idle(5.0)
    said = [e for e in events if isinstance(e, ResponseEvent)]
    assert [(e.text, e.interrupted) for e in said] == [("The train leaves.", False)]
    runner.close()
