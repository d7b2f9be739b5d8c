"""`listenloop bench latency --speech`: the loop's timing with speech that is not English (issue 30). The timings
themselves are measured by the bench (docs/benchmarks.md), not asserted here; these tests check the streams."""

from __future__ import annotations

import re

import pytest

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.bench import latency
from listenloop.bench.corpus import asterisk_prompts_in

HAN = re.compile("[\u4e00-\u9fff]")


def test_a_french_stream_is_made_of_the_french_prompts(shared_audio):
    if not asterisk_prompts_in("fr", limit=1):
        pytest.skip("Debian's French prompts are not installed: apt-get install asterisk-core-sounds-fr-wav")
    utterances = latency.speech("fr", shared_audio)
    assert len(utterances) == latency.PROMPTS
    assert all(u.text and u.source == "asterisk" for u in utterances)
    assert {u.name for u in utterances}.isdisjoint(u.name for u in latency.speech("en", shared_audio)[:2])
    assert any(re.search(r"[éèàçê]|\b(vous|votre|le|la)\b", u.text.lower()) for u in utterances)
    audio, ends = latency.build_stream(utterances, minutes=0.5, seed=1)
    assert len(ends) >= 3 and ends == sorted(ends) and ends[-1] < len(audio) / SAMPLE_RATE


def test_a_mandarin_stream_is_spoken_by_the_kept_kokoro_voices(monkeypatch, shared_audio, kokoro):
    from listenloop.bench import voices

    monkeypatch.setattr(voices, "zh_sentences", lambda: ("现在几点了？",))
    utterances = latency.speech("zh", shared_audio)
    assert len(utterances) == 2  # one line, two voices
    assert all(HAN.search(u.text) and u.source == "kokoro" for u in utterances)
    lengths = [len(u.audio) / SAMPLE_RATE for u in utterances]
    assert all(0.5 < s < 4.0 for s in lengths) and lengths[0] != lengths[1]  # two voices, trimmed to the speech
