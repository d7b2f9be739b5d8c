"""Smart Turn v3.2: its numpy front end matches Whisper's reference features, and on real sentences it calls a
finished sentence finished more than the same sentence cut after an open word."""

from __future__ import annotations

import re

import numpy as np
import pytest

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.decode import load_audio
from listenloop.data import content
from listenloop.data.real_voice import ASTERISK_HINT, ASTERISK_TEXTS, asterisk_prompts, load_real_voices
from listenloop.perception import smart_turn

TRAILING_SILENCE_S = 0.2  # what a turn detector hears after the voice stops before it is asked (pipecat's stop)
SENTENCES = 12  # real sentences scored finished and cut


def test_features_match_whisper_reference_features(speech_question):
    """faster-whisper's FeatureExtractor (the same recipe, another implementation) on the normalized 8 s window."""
    from faster_whisper.feature_extractor import FeatureExtractor

    window = smart_turn.last_window(speech_question)
    ours = smart_turn.features(window)
    normalized = (window - window.mean()) / np.sqrt(window.var() + smart_turn.NORM_EPS)
    reference = FeatureExtractor(feature_size=80, chunk_length=8)(normalized, padding=0)
    assert ours.shape == (80, 800) and reference.shape == ours.shape
    assert np.max(np.abs(ours - reference)) < 1e-3


def test_the_window_is_the_end_of_the_turn_left_padded():
    audio = np.arange(3 * SAMPLE_RATE, dtype=np.float32)
    window = smart_turn.last_window(audio)
    assert len(window) == smart_turn.WINDOW_SAMPLES and window[-1] == audio[-1] and not window[:SAMPLE_RATE].any()
    with pytest.raises(ValueError, match="128000 samples"):
        smart_turn.features(audio)


@pytest.mark.skipif(not ASTERISK_TEXTS.is_file(), reason=f"the asterisk prompts are not installed: {ASTERISK_HINT}")
def test_a_finished_real_sentence_scores_higher_than_the_same_sentence_cut():
    recordings = [r for r in load_real_voices(asterisk_prompts(), progress=False).recordings
                  if content.hesitation_cuts(r.text.split()) and len(r.words) >= 6 and not re.search(r"\d", r.text)]
    chosen = recordings[:: max(len(recordings) // SENTENCES, 1)][:SENTENCES]
    tail = np.zeros(int(TRAILING_SILENCE_S * SAMPLE_RATE), np.float32)
    whole, cut = [], []
    for r in chosen:
        audio = load_audio(r.path)
        at = r.cut_points(audio, [content.hesitation_cuts(r.text.split())[-1]])[0]
        whole.append(np.concatenate([audio[: int(r.words[-1].end * SAMPLE_RATE) + 1600], tail]))
        cut.append(np.concatenate([audio[:at], tail]))
    model = smart_turn.SmartTurn()
    p_whole, p_cut = model.complete_many(whole), model.complete_many(cut)
    assert p_whole.mean() > p_cut.mean() + 0.1, (p_whole.round(2), p_cut.round(2))
