"""The SoundFlow manifest: StreamAudio-2M lines in, our extended lines out and back, bad lines named."""

from __future__ import annotations

import json

import pytest

from listenloop.data.manifest import (
    NO_RESPONSE,
    SILENT_LABEL,
    ManifestError,
    Pause,
    Stream,
    Turn,
    TurnKind,
    read_manifest,
    respond_chunks,
    stream_to_dict,
    write_manifest,
)
from listenloop.vocabulary import Mode, Task

STREAMAUDIO_LINE = {  # the published corpus' shape, as its README shows it
    "id": "sa2m-000017",
    "stream_scene_type": "chat",
    "num_turns": 2,
    "turns": [
        {"user": "What is the capital of France?", "assistant": "Paris.", "emotion": "normal",
         "scene_type": "qa", "audio_path": "clips/a.wav"},
        {"user": "I am just talking to myself.", "assistant": NO_RESPONSE, "emotion": "normal",
         "scene_type": "chat", "audio_path": "clips/b.wav"},
    ],
}


def built_stream() -> Stream:
    turns = (
        Turn("What time is it?", "<answer>", scene_type="question", audio_path="audio/x.flac",
             kind=TurnKind.QUESTION, t0=0.5, t1=1.7, task=Task.ANSWER, source="espeak:en-us+f2:1.10:55"),
        Turn("I was thinking... um... about dinner", NO_RESPONSE, scene_type="hesitation", audio_path="audio/x.flac",
             kind=TurnKind.HESITATION, t0=3.0, t1=6.2, pauses=(Pause(3.9, 5.0),)),
        Turn("Did you lock the door?", NO_RESPONSE, kind=TurnKind.CROSSTALK, t0=7.0, t1=8.1, addressed=False),
    )
    labels = tuple(Task.ANSWER.value if i == 4 else SILENT_LABEL for i in range(23))
    return Stream("train-s0-000001", "soundflow-assistant", turns, audio_path="audio/x.flac", duration_s=9.2,
                  mode=Mode.ASSISTANT, labels=labels, snr_db=10.0, telephone=True, seed=3)


def test_built_stream_round_trips_exactly(tmp_path):
    stream = built_stream()
    path = tmp_path / "m.jsonl"
    assert write_manifest(path, [stream, stream]) == 2
    back = list(read_manifest(path))
    assert back == [stream, stream]
    assert respond_chunks(back[0]) == [(4, Task.ANSWER)]


def test_written_line_keeps_the_streamaudio_keys_and_types(tmp_path):
    d = stream_to_dict(built_stream())
    assert {"id", "stream_scene_type", "num_turns", "turns"} <= set(d)
    assert d["num_turns"] == len(d["turns"]) == 3
    for turn in d["turns"]:
        assert {"user", "assistant", "emotion", "scene_type", "audio_path"} <= set(turn)
        assert all(isinstance(turn[k], str) for k in ("user", "assistant", "emotion", "scene_type", "audio_path"))
    assert d["turns"][1]["assistant"] == NO_RESPONSE
    assert len(d["labels"]) == 23 and d["chunk_s"] == 0.4


def test_plain_streamaudio_line_is_read_as_clips_to_stitch(tmp_path):
    path = tmp_path / "sa2m.jsonl"
    path.write_text(json.dumps(STREAMAUDIO_LINE) + "\n\n")
    (stream,) = read_manifest(path)
    assert not stream.built and stream.num_turns == 2
    assert [t.needs_response for t in stream.turns] == [True, False]
    assert [t.kind for t in stream.turns] == [TurnKind.CLIP, TurnKind.CLIP]
    assert stream.turns[0].audio_path == "clips/a.wav" and stream.turns[0].t0 is None
    # and it writes back with the same corpus keys and values
    again = stream_to_dict(stream)
    for key in ("id", "stream_scene_type", "num_turns"):
        assert again[key] == STREAMAUDIO_LINE[key]
    for mine, theirs in zip(again["turns"], STREAMAUDIO_LINE["turns"], strict=True):
        assert {k: mine[k] for k in theirs} == theirs


def test_unknown_keys_of_a_corpus_line_are_kept(tmp_path):
    line = dict(STREAMAUDIO_LINE, source_corpus="commonvoice")
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps(line) + "\n")
    (stream,) = read_manifest(path)
    assert stream_to_dict(stream)["source_corpus"] == "commonvoice"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        (json.dumps({"id": "a", "turns": "x"}), "'turns' must be list"),
        (json.dumps(dict(STREAMAUDIO_LINE, num_turns=5)), "num_turns is 5 but 2 turns"),
        (json.dumps({"id": "a", "turns": [{"user": "hi"}]}), "missing key 'assistant'"),
        (json.dumps(dict(STREAMAUDIO_LINE, labels=["silent", "shout"])), "'shout' is not one of"),
        (json.dumps(dict(STREAMAUDIO_LINE, labels=["silent"], chunk_s=0.32)), "0.32 s chunks"),
    ],
)
def test_a_bad_line_is_named_with_its_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(STREAMAUDIO_LINE) + "\n" + line + "\n")
    with pytest.raises(ManifestError, match=message) as err:
        list(read_manifest(path))
    assert f"{path}:2" in str(err.value)


def test_missing_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="no such manifest"):
        list(read_manifest(tmp_path / "nope.jsonl"))
