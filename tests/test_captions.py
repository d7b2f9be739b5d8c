"""Captions on the learned clock (decision/captions.py): when held transcript responses go out, and as what."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np

from listenloop.decision import captions
from listenloop.decision.base import Task
from listenloop.perception.observation import SegmentEnd


def piece(n: int, t0: float, t1: float) -> SegmentEnd:
    return SegmentEnd(segment=n, t0=t0, t1=t1, audio=np.zeros(16, np.float32), last_partial="x", final=Future())


def test_held_pieces_wait_while_someone_speaks_and_go_out_together_when_the_model_says_so():
    hold = captions.CaptionHold()
    captions.hold(hold, piece(0, 0.0, 1.5), 1.6)
    assert captions.release(hold, 2.0, ready=True, speaking=True, wait_max_s=1.6) is None  # the speaker went on
    captions.hold(hold, piece(1, 2.2, 3.5), 3.6)
    assert captions.release(hold, 4.0, ready=False, speaking=False, wait_max_s=1.6) is None
    out = captions.release(hold, 4.4, ready=True, speaking=False, wait_max_s=1.6)
    assert out is not None and out.task is Task.TRANSCRIBE and "decision model" in out.reason
    assert out.payload["segment"].segment == 1 and [p.segment for p in out.payload["before"]] == [0]
    assert not hold.pieces and captions.release(hold, 5.0, ready=True, speaking=False, wait_max_s=1.6) is None


def test_without_the_model_they_go_out_after_the_wait_at_the_length_limit_or_at_the_end():
    hold = captions.CaptionHold()
    captions.hold(hold, piece(0, 0.0, 1.0), 1.2)
    assert captions.release(hold, 2.4, ready=False, speaking=False, wait_max_s=1.6) is None
    assert "without more speech" in captions.release(hold, 2.8, ready=False, speaking=False, wait_max_s=1.6).reason
    captions.hold(hold, piece(1, 3.0, 7.0), 7.1)
    captions.hold(hold, piece(2, 7.3, 11.5), 11.6)  # 8.5 s of held speech: over CAPTION_HOLD_MAX_S
    assert "limit" in captions.release(hold, 11.6, ready=False, speaking=True, wait_max_s=1.6).reason
    captions.hold(hold, piece(3, 12.0, 13.0), 13.1)
    assert "end of stream" in captions.release(hold, 13.2, False, True, 1.6, end_of_stream=True).reason


def test_a_held_piece_ends_open_by_its_final_text_once_that_is_in():
    """As judge, the model does not release a caption whose last piece reads as a sentence that goes on; the final
    text (Whisper base), once in, is what is read, not tiny.en's partial."""
    from listenloop.perception.observation import FinalText

    hold = captions.CaptionHold()
    assert not captions.ends_open(hold)  # nothing held
    final: Future = Future()
    open_piece = SegmentEnd(0, 0.0, 1.8, np.zeros(16, np.float32), "How do I convert fifty degrees Fahrenheit", final)
    captions.hold(hold, open_piece, 1.9)
    assert not captions.ends_open(hold)  # the partial reads as a finished question
    final.set_result(FinalText(0, 0.0, 1.8, "How do I convert fifty degrees Fahrenheit to", "en"))
    assert captions.ends_open(hold)  # the final heard the dangling "to"
    done: Future = Future()
    done.set_result(FinalText(1, 2.5, 3.5, "Celsius.", "en"))
    captions.hold(hold, SegmentEnd(1, 2.5, 3.5, np.zeros(16, np.float32), "", done), 3.6)
    assert not captions.ends_open(hold)  # the last piece ends the sentence
