"""Translation mode holds a piece that ends mid-sentence and translates it with the next piece, or alone if nothing
follows; as judge, the decision model confirms a translation as it does a caption (the policy alone, on scripted
observations; the judge's tests load the shipped decision model)."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np

from listenloop.audio.chunker import Chunk
from listenloop.audio.constants import SAMPLES_PER_CHUNK
from listenloop.decision.conversation import HELD_MAX_S, ConversationPolicy
from listenloop.decision.model.timing import LearnedTiming
from listenloop.decision.text.instructions import TaskState
from listenloop.perception.observation import AsrResult, FinalText, Observation, SegmentEnd
from listenloop.vocabulary import Mode, Task

SILENT = np.zeros(SAMPLES_PER_CHUNK, np.float32)


def ended(segment: int, text: str, t0: float, t1: float, cut: bool = False) -> SegmentEnd:
    final: Future[FinalText] = Future()
    final.set_result(FinalText(segment, t0, t1, text, "en"))
    return SegmentEnd(segment, t0, t1, SILENT, text, final, cut=cut)


def run(script: dict[int, SegmentEnd], chunks: int, timing: LearnedTiming | None = None):
    """(chunk, decision) of every response; the last chunk ends the stream."""
    policy = ConversationPolicy(TaskState(mode=Mode.TRANSLATE, language="zh"), timing=timing)
    state = policy.init_state()
    out = []
    for k in range(chunks):
        seg = script.get(k)
        obs = Observation(Chunk(k, SILENT), asr=AsrResult(ended=seg) if seg else AsrResult(),
                          extra={"end_of_stream": True} if k == chunks - 1 else {})
        d = policy.decide(obs, state)
        if d.responds:
            out.append((k, d))
    return out


def judge(sure: bool) -> LearnedTiming:
    """The shipped model as judge, made always sure (a bar of 0) or never (thresholds and bars out of reach)."""
    import dataclasses

    from listenloop.decision.model.learned import DecisionModel
    from listenloop.perception.sounds import load_class_names

    model = DecisionModel.load()
    if not sure:
        model = dataclasses.replace(model, threshold=2.0, open_threshold=2.0)
    bar = 0.0 if sure else 2.0
    return LearnedTiming(model, load_class_names(), decides=True, confirm=bar, caption_confirm=bar, doubt_p=bar)


def test_a_piece_cut_mid_sentence_is_translated_with_the_next_one():
    first = ended(0, "The tempest had passed away, and the sweet", 0.0, 5.0, cut=True)
    second = ended(1, "influences of the evening had restored life.", 5.0, 8.0)
    out = run({12: first, 15: second}, 30)  # the next piece closes 1.2 s later
    assert [(k, d.task) for k, d in out] == [(15, Task.TRANSLATE)]
    before = out[0][1].payload["before"]
    assert len(before) == 1 and before[0] is first and out[0][1].payload["segment"] is second


def test_a_finished_sentence_is_translated_at_once():
    out = run({12: ended(0, "They were certainly no nearer the solution.", 0.0, 4.0)}, 20)
    assert [(k, d.task) for k, d in out] == [(12, Task.TRANSLATE)]
    assert "before" not in out[0][1].payload


def test_a_held_piece_that_nothing_follows_is_translated_alone_after_a_while():
    held = ended(0, "and then she said", 0.0, 3.0)  # no final punctuation: a pause mid-sentence
    out = run({10: held}, 30)
    waited = round(HELD_MAX_S / 0.4)
    assert [(k, d.task) for k, d in out] == [(10 + waited, Task.TRANSLATE)]
    assert out[0][1].payload["segment"] is held and "before" not in out[0][1].payload


def test_as_judge_a_finished_sentence_is_translated_at_once_when_the_model_confirms_it():
    out = run({12: ended(0, "They were certainly no nearer the solution.", 0.0, 4.0)}, 20, judge(sure=True))
    assert [(k, d.task) for k, d in out] == [(12, Task.TRANSLATE)]


def test_as_judge_pieces_the_model_does_not_confirm_wait_and_go_out_together():
    """A pause the recognizer closed with a full stop: the rules would translate each piece; the model never confirms
    here, so the pieces wait, join, and go out once, at the end of the stream."""
    first = ended(0, "I was thinking about.", 0.0, 2.0)
    second = ended(1, "The trip to the mountains next weekend.", 3.0, 5.0)
    script = {7: first, 15: second}
    assert [k for k, _ in run(script, 40)] == [7, 15]  # the rules alone
    out = run(script, 40, judge(sure=False))
    assert [(k, d.task) for k, d in out] == [(39, Task.TRANSLATE)]
    assert out[0][1].payload["before"] == [first] and out[0][1].payload["segment"] is second
