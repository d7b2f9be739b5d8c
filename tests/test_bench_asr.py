"""`listenloop bench asr --mandarin`: Mandarin is scored by characters, in simplified script (issue 30's target:
streamed character error rate within 1.1x of offline Whisper base). The bench's figures are in docs/benchmarks.md."""

from __future__ import annotations

import numpy as np
import pytest

from listenloop.bench import asr
from listenloop.bench.corpus import Utterance


def test_mandarin_is_scored_by_simplified_characters_and_english_by_words():
    assert asr.characters("換一首歌。") == list("换一首歌")  # Whisper base may write traditional characters
    quiet = np.zeros(16, np.float32)
    mandarin = asr._score("mandarin kokoro", [Utterance("a", quiet, "请换一首歌。", "kokoro")], ["请换一首哥"],
                          ["請換一首歌"])
    assert mandarin.ref_words == 5 and mandarin.wer_streaming == pytest.approx(20.0)  # one character of five
    assert mandarin.wer_offline == 0.0 and mandarin.wer_vs_offline == pytest.approx(20.0)
    english = asr._score("asterisk", [Utterance("b", quiet, "press one for help", "asterisk")], ["press one for help"],
                         ["press won for help"])
    assert english.ref_words == 4 and english.wer_streaming == 0.0 and english.wer_offline == pytest.approx(25.0)


def test_a_mandarin_set_without_a_checked_transcript_is_scored_against_offline_only():
    quiet = np.zeros(16, np.float32)
    users = asr._score("mandarin users", [Utterance("u", quiet, None, "users")], ["你好吗"], ["你好"])
    assert users.wer_streaming is None and users.ratio is None
    assert users.wer_vs_offline == pytest.approx(50.0)  # an inserted character against offline's two
