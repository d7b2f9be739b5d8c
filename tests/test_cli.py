"""The command line end to end: real models, synthesized and real speech, and every kind of bad input."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from audio_files import write_audio
from conftest import pad

from listenloop.audio.constants import CHUNK_SECONDS, SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.audio.wav import write_wav
from listenloop.bench.corpus import JFK_TEXT
from listenloop.bench.wer import word_error_rate
from listenloop.cli import main

LISTENLOOP = [sys.executable, "-m", "listenloop.cli"]
QUESTION = "Please tell me what the weather will be like tomorrow morning."


def run_json(capsys, *args: str) -> list[dict]:
    assert main(["run", *args, "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def finals(events: list[dict]) -> list[str]:
    return [e["text"] for e in events if e["type"] == "transcript" and e["final"]]


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory) -> tuple[Path, int]:
    from listenloop.synthesis.synth import piper

    audio = pad(piper(QUESTION))
    path = tmp_path_factory.mktemp("cli") / "question.wav"
    write_wav(path, audio)
    return path, len(audio)


def test_run_json_gives_one_decision_per_chunk_a_transcript_and_a_summary(capsys, question_wav):
    path, n_samples = question_wav
    events = run_json(capsys, str(path), "--mode", "transcribe")
    decisions = [e for e in events if e["type"] == "decision"]
    assert [d["chunk"] for d in decisions] == list(range(math.ceil(n_samples / SAMPLES_PER_CHUNK)))
    assert all(abs(d["t"] - (d["chunk"] + 1) * CHUNK_SECONDS) < 1e-6 for d in decisions)
    assert word_error_rate(QUESTION, " ".join(finals(events))) <= 0.15
    responses = [e for e in events if e["type"] == "response"]
    assert responses and all(r["task"] == "transcribe" and r["latency_ms"] > 0 for r in responses)
    assert any(d["action"] == "respond" for d in decisions)
    assert events[-1]["type"] == "summary" and events[-1]["chunks"] == len(decisions)


def test_the_timeline_shows_marks_transcripts_and_the_summary(capsys, question_wav):
    assert main(["run", str(question_wav[0]), "--mode", "transcribe"]) == 0
    out = capsys.readouterr().out
    assert "·" in out and "●" in out and "weather" in out.lower() and "decisions over" in out


@pytest.mark.parametrize("rate,channels,suffix", [(8000, 1, ".wav"), (48000, 2, ".flac"), (44100, 2, ".mp3")])
def test_any_rate_and_channel_count_is_transcribed(capsys, tmp_path, rate, channels, suffix):
    import soxr

    from listenloop.synthesis.synth import piper

    speech = soxr.resample(pad(piper("Turn off the lights in the kitchen.")), SAMPLE_RATE, rate)
    path = write_audio(tmp_path / f"speech{suffix}", speech.astype(np.float32), rate, channels)
    text = " ".join(finals(run_json(capsys, str(path), "--mode", "transcribe"))).lower()
    assert "lights" in text and "kitchen" in text


def test_jfk_is_transcribed_within_five_percent_wer(capsys, shared_audio):
    events = run_json(capsys, str(shared_audio / "speech" / "jfk.flac"), "--mode", "transcribe")
    assert word_error_rate(JFK_TEXT, " ".join(finals(events))) <= 0.05


def test_sound_clips_and_music_produce_no_transcript(capsys, shared_audio):
    clips = sorted((shared_audio / "sounds").iterdir()) + [shared_audio / "streams/03_cough_music/sample03_03.wav"]
    for clip in clips:
        events = run_json(capsys, str(clip), "--mode", "transcribe")
        assert finals(events) == [], f"{clip.name} produced text: {finals(events)}"


def test_silence_only_gives_silent_decisions_and_no_text(capsys, tmp_path):
    path = tmp_path / "silence.wav"
    write_wav(path, np.zeros(SAMPLE_RATE * 5, dtype=np.float32))
    events = run_json(capsys, str(path), "--mode", "transcribe")
    assert all(e["action"] == "silent" for e in events if e["type"] == "decision")
    assert finals(events) == []


@pytest.mark.parametrize("content,message", [(b"", "empty"), (b"hello, not audio\n" * 50, "not a readable audio")])
def test_bad_files_give_one_clear_line_and_exit_code_2(tmp_path, content, message):
    path = tmp_path / "bad.mp3"
    path.write_bytes(content)
    proc = subprocess.run(LISTENLOOP + ["run", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and message in proc.stderr


def test_a_missing_file_is_reported_without_loading_models(tmp_path):
    proc = subprocess.run(LISTENLOOP + ["run", str(tmp_path / "nope.wav")], capture_output=True, text=True)
    assert proc.returncode == 2 and "no such file" in proc.stderr and "Traceback" not in proc.stderr


def test_raw_pcm_on_stdin_at_48k_stereo(tmp_path):
    import soxr

    from listenloop.synthesis.synth import piper

    speech = soxr.resample(pad(piper("The meeting starts at nine.")), SAMPLE_RATE, 48000)
    stereo = np.repeat(speech[:, None], 2, axis=1)
    raw = (np.clip(stereo, -1, 1) * 32767).astype("<i2").tobytes()
    proc = subprocess.run(
        LISTENLOOP + ["run", "-", "--rate", "48000", "--channels", "2", "--json", "--mode", "transcribe"],
        input=raw, capture_output=True,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    events = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert "meeting" in " ".join(finals(events)).lower()


def test_an_interrupted_session_still_finishes_with_its_summary(tmp_path, question_wav):
    # Ctrl-C must reach the session as it does from a terminal; a runner started as a background job (nohup, `&`)
    # ignores SIGINT, which a child would inherit. A handler (unlike an ignore) is reset to the default on exec.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            LISTENLOOP + ["run", str(question_wav[0]), "--realtime", "--json", "--no-sounds"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    while json.loads(proc.stdout.readline())["type"] != "decision":
        pass  # the first decision: models are loaded and audio flows
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    lines = [json.loads(line) for line in out.splitlines()]
    assert proc.returncode == 0 and "interrupted" in err
    assert lines[-1]["type"] == "summary" and 2 <= lines[-1]["chunks"] < math.ceil(question_wav[1] / SAMPLES_PER_CHUNK)


def test_listen_without_a_microphone_says_so_clearly():
    proc = subprocess.run(LISTENLOOP + ["listen"], capture_output=True, text=True, timeout=120)
    if proc.returncode == 0:
        pytest.skip("this machine has a microphone")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "microphone" in proc.stderr.lower() or "portaudio" in proc.stderr.lower()


def test_demo_runs_on_speech_it_synthesizes_itself(tmp_path):
    saved = tmp_path / "demo.wav"
    proc = subprocess.run(LISTENLOOP + ["demo", "--json", "--save", str(saved)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert saved.exists() and saved.stat().st_size > SAMPLE_RATE * 2 * 5
    said = [e["text"] for e in events if e["type"] == "transcript" and e["final"]]
    assert any("capital" in t.lower() for t in said)
    # the final of the sentence broken by a pause neither repeats nor invents a phrase (perception/final_check.py)
    broken = [t for t in said if "streaming speech models" in t.lower()]
    assert broken and all(t.lower().count("streaming speech models") == 1 for t in broken), said
    answers = [e for e in events if e["type"] == "response" and e["task"] == "answer"]
    assert answers and "paris" in answers[-1]["text"].lower(), answers
    assert events[-1]["type"] == "summary"
    # every chunk's decision reaches stdout, also while the language model loads in the background
    assert [e["chunk"] for e in events if e["type"] == "decision"] == list(range(events[-1]["chunks"]))


def test_every_command_of_the_issues_is_on_the_command_line():
    from listenloop.cli import build_parser

    parser = build_parser()
    for argv in (["data", "build", "--out", "x"], ["train", "decision", "m.jsonl"], ["serve"], ["stream", "f.wav"],
                 ["models", "fetch"], ["bench", "asr"], ["bench", "latency"], ["bench", "sounds"],
                 ["bench", "conversation"], ["bench", "decisions"], ["bench", "server"], ["demo"], ["listen"],
                 ["batch", "x.wav", "--out", "o"]):
        args = parser.parse_args(argv)
        assert args.command == argv[0]


def test_python_dash_m_listenloop_is_the_listenloop_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "listenloop", "run", str(tmp_path / "nope.wav")], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "no such file" in proc.stderr  # the same command, the same clear line
    helped = subprocess.run([sys.executable, "-m", "listenloop", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "demo" in helped.stdout


def test_a_name_is_a_session_option_and_a_bad_one_is_refused_in_one_line(question_wav):
    from listenloop.cli import build_parser, session_options

    args = build_parser().parse_args(["run", "x.wav", "--name", "Pascal", "--alias", "Pascale"])
    assert session_options(args).names == ("Pascal", "Pascale")
    path, _ = question_wav
    proc = subprocess.run(LISTENLOOP + ["run", str(path), "--name", "Pascal, answer me"], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "is not a name" in proc.stderr and "Traceback" not in proc.stderr


def test_speak_to_writes_the_spoken_answer_on_the_input_timeline(capsys, tmp_path, question_wav):
    """--speak-to: piper speaks the answer sentence by sentence; the wav is as long as the input at least, silent
    until the answer's decision, then carries the voice, and every sentence is an audio event."""
    from listenloop.audio.decode import load_audio

    out = tmp_path / "spoken.wav"
    events = run_json(capsys, str(question_wav[0]), "--no-sounds", "--speak-to", str(out))
    answers = [e for e in events if e["type"] == "response" and e["task"] == "answer"]
    sentences = [e for e in events if e["type"] == "audio"]
    assert answers and answers[0]["text"], [e for e in events if e["type"] == "response"]
    assert sentences and all(s["id"] == answers[0]["id"] for s in sentences)
    spoken = load_audio(out)
    assert len(spoken) >= question_wav[1] - 1
    voiced = np.flatnonzero(np.abs(spoken) > 0.02)
    assert voiced.size >= 0.1 * SAMPLE_RATE, "almost no voice in the spoken output"
    assert voiced[0] / SAMPLE_RATE >= answers[0]["t"] - 0.01, (voiced[0] / SAMPLE_RATE, answers[0]["t"])
    # the voice starts no sooner than a live session's could: after the time to the answer's first text
    assert sentences[0]["t"] >= answers[0]["t"] + answers[0]["latency_ms"] / 1000.0 - 0.05, (sentences[0], answers[0])
