"""Captions on the learned clock (decision/captions.py): when held transcript responses go out, and as what."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pytest

from listenloop.decision import captions
from listenloop.decision.holds import HoldKind, HoldQueue
from listenloop.perception.observation import Confidence, SegmentEnd
from listenloop.vocabulary import Task

SURE = Confidence()  # tiny.en certain of every token


def piece(n: int, t0: float, t1: float) -> SegmentEnd:
    return SegmentEnd(segment=n, t0=t0, t1=t1, audio=np.zeros(16, np.float32), last_partial="x", final=Future())


def test_held_pieces_wait_while_someone_speaks_and_go_out_together_when_the_model_says_so():
    hold = HoldQueue()
    captions.hold(hold, piece(0, 0.0, 1.5), 1.6)
    assert captions.release(hold, 2.0, ready=True, speaking=True, wait_max_s=1.6) is None  # the speaker went on
    captions.hold(hold, piece(1, 2.2, 3.5), 3.6)
    assert captions.release(hold, 4.0, ready=False, speaking=False, wait_max_s=1.6) is None
    out = captions.release(hold, 4.4, ready=True, speaking=False, wait_max_s=1.6)
    assert out is not None and out.task is Task.TRANSCRIBE and "decision model" in out.reason
    assert out.payload["segment"].segment == 1 and [p.segment for p in out.payload["before"]] == [0]
    assert not hold.pieces(HoldKind.CAPTION)
    assert captions.release(hold, 5.0, ready=True, speaking=False, wait_max_s=1.6) is None


def test_without_the_model_they_go_out_after_the_wait_at_the_length_limit_or_at_the_end():
    hold = HoldQueue()
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

    hold = HoldQueue()
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


def test_a_caption_released_at_the_pause_takes_the_held_pieces_and_its_close_adds_nothing():
    hold = HoldQueue()
    captions.hold(hold, piece(0, 0.0, 1.5), 1.6)
    assert captions.release_at_pause(hold, 1, "I was thinking about", SURE) is None  # the sentence goes on
    assert captions.release_at_pause(hold, 1, "  ", SURE) is None  # nothing heard yet
    out = captions.release_at_pause(hold, 1, "the trip next weekend.", SURE)
    assert out is not None and out.task is Task.TRANSCRIBE and "at the pause" in out.reason
    assert out.payload["open_segment"] == 1 and [p.segment for p in out.payload["before"]] == [0]
    assert out.payload["segment_text"] == "the trip next weekend." and not hold.pieces(HoldKind.CAPTION)
    at_pause = 1  # the policy remembers the segment captioned at its pause (ConversationState.captioned_at_pause)
    assert captions.release_at_pause(hold, 1, "the trip next weekend.", SURE, at_pause) is None  # once per segment
    captions.hold(hold, piece(1, 1.9, 3.0), 3.1, at_pause)  # the segment closes: captioned already
    assert not hold.rows
    captions.hold(hold, piece(2, 4.0, 5.0), 5.1, at_pause)  # the next one is held as before
    assert [p.segment for p in hold.pieces(HoldKind.CAPTION)] == [2]


def _sure_transcription_policy(caption_confirm: float | None = None, model_threshold: float | None = None):
    """Transcription mode with the shipped model as judge, made sure of every chunk (its bar at 0; the captions' bar
    too unless given); `model_threshold` replaces the model's own threshold (and the open-text one)."""
    from dataclasses import replace

    from listenloop.decision.conversation import ConversationPolicy
    from listenloop.decision.model.learned import DecisionModel
    from listenloop.decision.model.timing import LearnedTiming
    from listenloop.decision.sounds.sound_policy import SoundPolicy
    from listenloop.decision.text.instructions import TaskState
    from listenloop.perception.sounds import load_class_names
    from listenloop.vocabulary import Mode

    names = load_class_names()
    model = DecisionModel.load()
    if model_threshold is not None:
        model = replace(model, threshold=model_threshold, open_threshold=None)
    timing = LearnedTiming(model, names, decides=True, confirm=0.0, caption_confirm=caption_confirm)
    return ConversationPolicy(TaskState(mode=Mode.TRANSCRIBE), SoundPolicy.load(), names, timing=timing)


def _obs(index: int, voiced: bool, partial: str | None = None, ended: SegmentEnd | None = None,
         confidence: Confidence = SURE):
    """0.4 s of a voiced tone or of silence, with what the recognizer says about segment 0."""
    from listenloop.audio.chunker import Chunk
    from listenloop.perception.observation import AsrResult, Observation, PartialText, VadResult

    n = 6400
    samples = (0.14 * np.sin(np.arange(n) * 0.2)).astype(np.float32) if voiced else np.zeros(n, np.float32)
    vad = VadResult(np.full(12, 0.9 if voiced else 0.02, np.float32), voiced, silence_s=0.0 if voiced else 0.4,
                    first_window=index * 12)
    text = None if partial is None else PartialText(0, 0.0, (index + 1) * 0.4, partial, partial, confidence)
    return Observation(Chunk(index, samples), vad=vad, asr=AsrResult(partial=text, ended=ended))


@pytest.mark.parametrize(("heard", "at_pause"), [("I will see you at the station tomorrow", True),
                                                 ("I will see you at the", False)])
def test_as_judge_a_finished_sentence_is_captioned_at_its_pause_before_its_segment_closes(heard, at_pause):
    policy = _sure_transcription_policy()
    state = policy.init_state()
    closed = SegmentEnd(0, 0.0, 0.8, np.zeros(16, np.float32), heard, Future())
    steps = [_obs(0, True, "I will see you"), _obs(1, True, heard), _obs(2, False), _obs(3, False, ended=closed),
             _obs(4, False), _obs(5, False)]
    decisions = [policy.decide(obs, state) for obs in steps]
    captioned = [(i, d) for i, d in enumerate(decisions) if d.responds and d.task is Task.TRANSCRIBE]
    if at_pause:  # at the first silent chunk, naming the open segment; its close adds no second caption
        assert [i for i, _ in captioned] == [2], [(i, d.reason) for i, d in enumerate(decisions)]
        assert captioned[0][1].payload["open_segment"] == 0 and "at the pause" in captioned[0][1].reason
    else:  # a sentence that goes on is not captioned at the pause, nor (the model reads it open) at the close
        assert captioned == [], [(i, d.reason) for i, d in captioned]


def test_segments_with_no_partial_ride_with_the_next_caption_in_order_and_old_ones_are_let_go():
    hold = HoldQueue()
    captions.ride(hold, piece(0, 0.0, 0.5))
    captions.ride(hold, piece(1, 9.0, 9.4))  # segment 0 closed more than CAPTION_HOLD_MAX_S before: let go
    captions.ride(hold, piece(2, 9.6, 10.0))
    captions.hold(hold, piece(3, 10.3, 12.0), 12.1)
    assert captions.release(hold, 12.4, ready=False, speaking=False, wait_max_s=1.6) is None  # riders never push one
    out = captions.release(hold, 12.4, ready=True, speaking=False, wait_max_s=1.6)
    joined = captions.with_riders(hold, out)
    assert [p.segment for p in joined.payload["before"]] == [1, 2] and joined.payload["segment"].segment == 3
    assert not hold.pieces(HoldKind.RIDER) and captions.with_riders(hold, out) is out  # taken once


@pytest.mark.parametrize("clock", [False, True])
def test_a_short_last_segment_waiting_to_ride_is_captioned_alone_at_the_end_of_the_stream(clock):
    """A segment too short for any partial text ("Thanks.") waits to ride with the next caption; when the stream
    ends first, it is captioned on its own rather than lost (with the rules alone and with the model as judge)."""
    from listenloop.decision.conversation import ConversationPolicy
    from listenloop.decision.text.instructions import TaskState
    from listenloop.vocabulary import Mode

    policy = _sure_transcription_policy() if clock else ConversationPolicy(TaskState(mode=Mode.TRANSCRIBE))
    state = policy.init_state()
    first = SegmentEnd(0, 0.0, 0.8, np.zeros(16, np.float32), "I will see you at the station tomorrow", Future())
    short = SegmentEnd(1, 2.0, 2.3, np.zeros(16, np.float32), "", Future())
    steps = [_obs(0, True, "I will see you"), _obs(1, True, "I will see you at the station tomorrow"),
             _obs(2, False), _obs(3, False, ended=first), _obs(4, False), _obs(5, True), _obs(6, False, ended=short),
             _obs(7, False)]
    end = _obs(8, False)
    end.extra["end_of_stream"] = True
    decisions = [policy.decide(obs, state) for obs in [*steps, end]]
    captioned = [(i, d.payload) for i, d in enumerate(decisions) if d.responds and d.task is Task.TRANSCRIBE]
    assert len(captioned) == 2, [(i, d.reason) for i, d in enumerate(decisions)]
    assert captioned[-1][0] == 8 and captioned[-1][1]["segment"].segment == 1 and not captioned[-1][1]["before"]
    assert not state.holds.pieces(HoldKind.RIDER)


@pytest.mark.parametrize(("final_text", "captioned"), [("The lights flickered during the night.", True),
                                                       ("The lights flickered during the", False)])
def test_a_caption_whose_partial_ends_on_a_guessed_word_waits_for_the_final_text(monkeypatch, final_text, captioned):
    """tiny.en completes a sentence cut short with a word it guesses, and is unsure of it: that caption is neither
    released at the pause nor at the segment's close, but once the final text (Whisper base) is in, and only if the
    final ends the sentence."""
    from listenloop.decision.text import sentence
    from listenloop.perception.observation import FinalText

    monkeypatch.setattr(sentence, "UNSURE_NATS", 2.0)
    guessed = Confidence(-0.6, -3.2, -0.5)
    policy = _sure_transcription_policy()
    state = policy.init_state()
    final: Future = Future()
    heard = "The lights flickered during the night."
    closed = SegmentEnd(0, 0.0, 0.8, np.zeros(16, np.float32), heard, final, last_confidence=guessed)
    steps = [_obs(0, True, "The lights flickered during"), _obs(1, True, heard, confidence=guessed),
             _obs(2, False), _obs(3, False, ended=closed), _obs(4, False), _obs(5, False)]
    decisions = []
    for i, obs in enumerate(steps):
        if i == 4:
            final.set_result(FinalText(0, 0.0, 0.8, final_text, "en"))
        decisions.append(policy.decide(obs, state))
    at = [i for i, d in enumerate(decisions) if d.responds and d.task is Task.TRANSCRIBE]
    assert at == ([4] if captioned else []), [(i, d.reason) for i, d in enumerate(decisions)]


def test_captions_are_judged_by_their_own_bar():
    """The judge's bar for captions is its own (CAPTION_CONFIRM_P). Answers' bar at 0, the captions' at the model's
    own threshold, here set where no input reaches it (a shipped model may pass its own on this tone-and-silence
    input): a finished sentence is captioned neither at its pause nor at its close, only at the end of the stream
    (with one bar at 0 it goes at its pause, as above)."""
    policy = _sure_transcription_policy(caption_confirm=1.0, model_threshold=1.01)
    state = policy.init_state()
    heard = "I will see you at the station tomorrow"
    closed = SegmentEnd(0, 0.0, 0.8, np.zeros(16, np.float32), heard, Future())
    steps = [_obs(0, True, "I will see you"), _obs(1, True, heard), _obs(2, False), _obs(3, False, ended=closed),
             _obs(4, False), _obs(5, False)]
    end = _obs(6, False)
    end.extra["end_of_stream"] = True
    decisions, ready = [], []
    for obs in [*steps, end]:
        decisions.append(policy.decide(obs, state))
        ready.append(state.timing.ready)
    assert not any(ready[:-1]), "precondition: the model stays under its own threshold on this input"
    assert [i for i, d in enumerate(decisions) if d.responds] == [6], [(i, d.reason) for i, d in enumerate(decisions)]


def test_a_translation_whose_final_text_comes_after_the_speaker_went_on_is_not_lost():
    """Translate mode, finals slow (a loaded machine): the recognizer was unsure of the first sentence's last word, so
    it waits for its final text; that comes in while the next sentence is being said. The first sentence is still
    translated (before: only an instruction was looked for in it, and it was never translated)."""
    from listenloop.audio.chunker import Chunk
    from listenloop.decision.conversation import ConversationPolicy
    from listenloop.decision.text.instructions import TaskState
    from listenloop.perception.observation import AsrResult, FinalText, Observation, PartialText, VadResult
    from listenloop.respond.base import spoken_pieces
    from listenloop.vocabulary import Mode

    def obs(index: int, voiced: bool, partial: PartialText | None = None, ended: SegmentEnd | None = None):
        samples = (0.14 * np.sin(np.arange(6400) * 0.2)).astype(np.float32) if voiced else np.zeros(6400, np.float32)
        vad = VadResult(np.full(12, 0.9 if voiced else 0.02, np.float32), voiced, silence_s=0.0 if voiced else 0.4,
                        first_window=index * 12)
        return Observation(Chunk(index, samples), vad=vad, asr=AsrResult(partial=partial, ended=ended))

    policy = ConversationPolicy(TaskState(mode=Mode.TRANSLATE, language="en"))
    state = policy.init_state()
    first_final, second_final = Future(), Future()
    unsure = Confidence(-0.6, -3.2, -0.5)  # the last word's least likely token 3.2 nats below certain
    heard = "Vous n'êtes plus en ligne."
    first = SegmentEnd(0, 0.0, 1.2, np.zeros(16, np.float32), heard, first_final, last_confidence=unsure)
    second = SegmentEnd(1, 2.0, 3.2, np.zeros(16, np.float32), "Renvoi d'appel.", second_final)
    going_on = PartialText(1, 2.0, 2.8, "Renvoi d'appel", "Renvoi", lang="fr")
    steps = [obs(0, True, PartialText(0, 0.0, 0.8, "Vous n'êtes plus", "Vous", lang="fr")),
             obs(1, True, PartialText(0, 0.0, 1.2, heard, "Vous n'êtes", unsure, lang="fr")),
             obs(2, False, ended=first), obs(3, False), obs(4, True, PartialText(1, 2.0, 2.0, "Renvoi", "", lang="fr")),
             obs(5, True, going_on), obs(6, True, going_on), obs(7, False, ended=second), obs(8, False),
             obs(9, False), obs(10, False)]
    translated = []
    for i, o in enumerate(steps):
        if i == 5:  # the first final, while the second sentence is said
            first_final.set_result(FinalText(0, 0.0, 1.2, heard, "fr"))
        if i == 8:
            second_final.set_result(FinalText(1, 2.0, 3.2, "Renvoi d'appel.", "fr"))
        d = policy.decide(o, state)
        if d.responds and d.task is Task.TRANSLATE:
            translated += [p.segment for p in spoken_pieces(d.payload)]
    assert sorted(translated) == [0, 1], translated
