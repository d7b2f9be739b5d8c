"""Mandarin spoken by Kokoro-82M (synthesis/kokoro_voice.py, synthesis/mandarin.py) and built into streams
(`data build --language zh`): Whisper base must read the voice back as the sentence, and a built stream's turns are
Mandarin and labelled as English turns are.

Real models: the Kokoro int8 ONNX from the model store (`listenloop models fetch kokoro`) and Whisper base; the tests
skip with the command to run when Kokoro, pypinyin or jieba is absent."""

from __future__ import annotations

import argparse
import re
import unicodedata

import numpy as np
import pytest
from conftest import kokoro_front_end

from listenloop.audio.constants import CHUNK_SECONDS, SAMPLE_RATE
from listenloop.bench.wer import edit_distance
from listenloop.data import sentences_zh
from listenloop.data.compose import REPLY_MIN_DELAY_S
from listenloop.data.manifest import SILENT_LABEL, TurnKind, read_manifest
from listenloop.vocabulary import Task

CER_BOUND = 0.15  # the bench's bar for a voice setting the builder keeps (docs/benchmarks/languages.md)
HAN = re.compile("[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def rec():
    from listenloop.perception.asr import Recognizer

    recognizer = Recognizer()
    yield recognizer
    recognizer.close()


def chars(text: str) -> list[str]:
    return list(re.sub(r"[^\w]", "", unicodedata.normalize("NFC", text)))


def cer(said: str, heard: str) -> float:
    return edit_distance(chars(said), chars(heard)) / len(chars(said))


def test_syllables_are_spelled_as_misaki_spelled_them_for_kokoro_v1():
    kokoro_front_end()
    from listenloop.synthesis.mandarin import phonemes, syllable

    assert syllable("hao3") == "xau↓"  # h -> x, ao -> au, third tone after the nucleus
    assert syllable("zhi1") == "ꭧɨ→"  # the apical vowel after a retroflex
    assert syllable("xue2") == "ɕɥe↗"  # ü-glide after x
    assert syllable("guang1") == "kwa→ŋ"  # the tone sits before the coda
    assert syllable("de5") == "tɤ"  # neutral tone: no arrow
    assert phonemes("你好，") == "ni↓xau↓,"
    assert phonemes("你好", sandhi=True).startswith("ni↗")  # 3-3 -> 2-3


def test_every_line_of_the_mandarin_builder_is_spelled_in_the_models_vocabulary(kokoro):
    from listenloop.synthesis.mandarin import check_vocabulary, phonemes

    lines = [*sentences_zh.QUESTIONS, *sentences_zh.REQUESTS, *sentences_zh.STATEMENTS, *sentences_zh.TELEVISION,
             *sentences_zh.FILLERS, *(x for pair in sentences_zh.CROSSTALK for x in pair)]
    spelled = [phonemes(sentences_zh.spoken(line)) for line in lines]
    assert check_vocabulary(spelled, kokoro.load().vocabulary) == []
    assert all(len(kokoro.ids(p, kokoro.load().vocabulary)) <= kokoro.MAX_TOKENS for p in spelled)


def test_text_the_front_end_cannot_read_is_a_clear_error(kokoro):
    with pytest.raises(kokoro.KokoroError, match="in characters"):
        kokoro.speak_mandarin("我有3个苹果")
    with pytest.raises(kokoro.KokoroError, match="unknown Kokoro style"):
        kokoro.speak_mandarin("你好", style="af_heart")


def test_whisper_base_reads_a_kept_kokoro_setting_back_as_the_builders_lines(kokoro, rec):
    """The voice bench's measure on one kept setting: the 12 lines of `bench voices`, CER over all of them (9.9 %
    measured, docs/benchmarks/languages.md); single lines vary ("请8客厅的登关调" for "请把客厅的灯关掉" by another kept
    setting), so the bound is on the whole set."""
    from listenloop.bench.voices import zh_sentences
    from listenloop.data.speakers import KOKORO_SETTINGS
    from listenloop.perception.language import in_script

    style, speed = "jm_kumo", 1.0
    assert (style, speed) in KOKORO_SETTINGS
    pad = np.zeros(SAMPLE_RATE // 2, np.float32)
    errors = chars_said = identified = 0
    for text in zh_sentences():
        audio = kokoro.speak_mandarin(text, style, speed)
        assert 0.5 < len(audio) / SAMPLE_RATE < 6.0
        final = rec.transcribe_segment(np.concatenate([pad, audio, pad]))
        heard = in_script(final.text, final.lang)
        errors += edit_distance(chars(text), chars(heard))
        chars_said += len(chars(text))
        identified += final.lang == "zh"
    assert errors / chars_said < CER_BOUND
    assert identified >= len(zh_sentences()) - 1


def test_kokoro_says_one_text_one_way(kokoro):
    first = kokoro.speak_mandarin("请问明天的天气怎么样？", "jf_gongitsune", 1.2)
    assert np.array_equal(first, kokoro.speak_mandarin("请问明天的天气怎么样？", "jf_gongitsune", 1.2))
    assert not np.array_equal(first[: len(first) // 2],
                              kokoro.speak_mandarin("请问明天的天气怎么样？", "jm_kumo", 1.2)[: len(first) // 2])


def build_args(out, **kw) -> argparse.Namespace:
    from listenloop.data import build

    parser = argparse.ArgumentParser()
    build.add_arguments(parser)
    argv = ["--out", str(out), "--workers", "1", "--quiet"]
    for key, value in kw.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return parser.parse_args(argv)


def test_a_built_mandarin_stream_has_mandarin_turns_labelled_as_english_ones_are(kokoro, rec, tmp_path):
    from listenloop.audio.decode import load_audio
    from listenloop.data import build
    from listenloop.perception.language import in_script

    out = tmp_path / "zh"
    assert build.run(build_args(out, language="zh", streams=1, seconds=20, seed=3, transcribe_fraction=0,
                                snrs="none")) == 0
    (stream,) = read_manifest(out / build.MANIFEST_NAME)
    assert stream.language == "zh"
    spoken = [t for t in stream.turns if t.kind is not TurnKind.SOUND]
    assert spoken and all(HAN.search(t.user) and t.source.removeprefix("tv:").startswith("kokoro:") for t in spoken)
    due = [t for t in stream.turns if t.task is not None]
    assert all(t.kind in (TurnKind.QUESTION, TurnKind.REQUEST, TurnKind.HESITATION) for t in due)
    assert all(t.task is Task.ANSWER for t in due)
    labelled = {i for i, x in enumerate(stream.labels) if x != SILENT_LABEL}
    assert labelled == {int((t.t1 + REPLY_MIN_DELAY_S) / CHUNK_SECONDS) for t in due}
    audio = load_audio(out / stream.audio_path)
    first = next(t for t in spoken if t.kind in (TurnKind.QUESTION, TurnKind.REQUEST, TurnKind.STATEMENT))
    clip = audio[int(first.t0 * SAMPLE_RATE): int(first.t1 * SAMPLE_RATE) + SAMPLE_RATE // 4]
    final = rec.transcribe_segment(clip, language="zh")
    assert cer(first.user, in_script(final.text, "zh")) < 0.5, (first.user, final.text)


def test_a_mandarin_build_refuses_english_talkers(tmp_path, capsys):
    from listenloop.data import build

    assert build.run(build_args(tmp_path / "o", language="zh", engines="espeak")) == 2
    err = capsys.readouterr().err
    assert "--engines must name kokoro for --language zh" in err and "Traceback" not in err


def test_the_manifest_keeps_a_streams_language_and_reads_older_builds_as_english():
    from listenloop.data.manifest import Stream, stream_from_dict, stream_to_dict

    stream = Stream("s", "soundflow-assistant", (), audio_path="a.flac", duration_s=0.4, labels=(SILENT_LABEL,),
                    language="zh")
    line = stream_to_dict(stream)
    assert line["language"] == "zh" and stream_from_dict(line).language == "zh"
    del line["language"]
    assert stream_from_dict(line).language == "en" and "language" not in stream_from_dict(line).extra
