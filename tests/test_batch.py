"""`listenloop batch`: every good file gets a complete events file, bad files are recorded as failed without
stopping the others, a second run skips what is done, and Ray actors give what local processes give."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.batch import command
from listenloop.batch.worker import EVENTS_SUFFIX, RESULT_SUFFIX, FileResult
from listenloop.data.mixing import write_flac
from listenloop.synthesis.synth import espeak
from tests.conftest import pad


def batch_args(inputs: list[Path], out: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args([*map(str, inputs), "--out", str(out), "--workers", "2", "--quiet", *extra])


@pytest.fixture(scope="module")
def recordings(tmp_path_factory, shared_audio) -> Path:
    """Five files: real speech (jfk), synthesized speech, a real dog, a corrupt file and an empty one."""
    folder = tmp_path_factory.mktemp("archive")
    shutil.copy(shared_audio / "speech" / "jfk.flac", folder / "jfk.flac")
    write_flac(folder / "question.flac", pad(espeak("Please write down that the meeting moved to Friday.")))
    shutil.copy(shared_audio / "sounds" / "dog.wav", folder / "dog.wav")
    (folder / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(np.random.default_rng(0)
                                                                              .integers(0, 256, 3000, np.uint8)))
    (folder / "empty.wav").write_bytes(b"")
    return folder


def events_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def comparable(events: list[dict]) -> dict[str, list]:
    """What a file's events say: its decisions, final transcripts, responses and sounds, each in stream order.
    Not the interleaving of those kinds (finals are decoded on a worker thread, so a final and the next chunk's
    partial come out in either order from run to run, on one machine too), partials or wall-clock figures."""
    def of(kind: str, keep) -> list:
        return [keep(e) for e in events if e["type"] == kind and e.get("final", True)]

    return {"decisions": of("decision", lambda e: (e["chunk"], e["action"], e["task"])),
            "finals": of("transcript", lambda e: (e["segment"], e["text"])),
            "responses": of("response", lambda e: (e["task"], e["text"])),
            "sounds": of("sound", lambda e: (e["label"], e["state"], e["t0"]))}


@pytest.fixture(scope="module")
def local_run(recordings, tmp_path_factory):
    out = tmp_path_factory.mktemp("events")
    code = command.run(batch_args([recordings], out))
    return out, code


def test_good_files_get_complete_events_and_bad_ones_are_recorded_as_failed(local_run, recordings):
    out, code = local_run
    assert code == 1  # some inputs failed
    for name in ("jfk", "question", "dog"):
        events = events_of(out / f"{name}{EVENTS_SUFFIX}")
        assert events[-1]["type"] == "summary"  # complete: the session finished
        decisions = [e for e in events if e["type"] == "decision"]
        assert len(decisions) == events[-1]["chunks"] > 0
        record = FileResult.read(out / f"{name}{RESULT_SUFFIX}")
        assert record.ok and record.audio_s > 0 and record.cpu_s > 0
    jfk_words = re.findall(r"[a-z]+", " ".join(e["text"] for e in events_of(out / f"jfk{EVENTS_SUFFIX}")
                                                if e["type"] == "transcript" and e["final"]).lower())
    assert "ask not what your country" in " ".join(jfk_words)
    for name in ("corrupt", "empty"):
        assert not (out / f"{name}{EVENTS_SUFFIX}").exists()
        record = FileResult.read(out / f"{name}{RESULT_SUFFIX}")
        assert not record.ok and "AudioError" in record.error and str(recordings / f"{name}.wav") in record.error
    table = (out / command.SUMMARY_NAME).read_text(encoding="utf-8")
    assert table.count("| FAILED |") == 2 and table.count("| ok |") == 3
    assert "audio hours per wall hour" in table


def test_a_second_run_skips_the_done_inputs_and_tries_the_failed_ones_again(local_run, recordings, capsys):
    out, _ = local_run
    before = {p.name: p.stat().st_mtime_ns for p in out.glob(f"*{EVENTS_SUFFIX}")}
    assert command.run(batch_args([recordings], out)) == 1
    assert "3 of 5 inputs done before, skipped" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.glob(f"*{EVENTS_SUFFIX}")} == before
    assert not FileResult.read(out / f"corrupt{RESULT_SUFFIX}").ok  # tried again, failed again


def test_globs_and_files_name_inputs_and_a_typo_is_an_error(recordings, tmp_path):
    from listenloop.batch.inputs import InputError, expand

    assert [p.name for p in expand([str(recordings / "*.flac"), str(recordings / "dog.wav")])] == [
        "dog.wav", "jfk.flac", "question.flac"]
    with pytest.raises(InputError, match="no such file"):
        expand([str(tmp_path / "nothing-*.wav")])


def test_ray_actors_give_the_same_events_as_local_processes(local_run, recordings, tmp_path, ray_cluster):
    out_local, _ = local_run
    out_ray = tmp_path / "ray"
    assert command.run(batch_args([recordings], out_ray, "--ray")) == 1
    for name in ("jfk", "question", "dog"):
        assert comparable(events_of(out_ray / f"{name}{EVENTS_SUFFIX}")) == \
            comparable(events_of(out_local / f"{name}{EVENTS_SUFFIX}"))
    for name in ("corrupt", "empty"):
        assert not FileResult.read(out_ray / f"{name}{RESULT_SUFFIX}").ok


def test_audio_lengths_are_what_the_files_hold(local_run, recordings):
    from listenloop.audio.decode import load_audio

    out, _ = local_run
    record = FileResult.read(out / f"jfk{RESULT_SUFFIX}")
    assert abs(record.audio_s - len(load_audio(recordings / "jfk.flac")) / SAMPLE_RATE) < 0.5


def test_the_largest_inputs_start_first_and_the_summary_keeps_input_order(recordings, tmp_path):
    """Longest first (by size on disk), so two workers end together; what is reported stays in input order."""
    args = batch_args([recordings], tmp_path / "out")
    jobs, done = command.plan(args)
    order = [job.path.name for job in command.longest_first(jobs)]
    sizes = [(recordings / name).stat().st_size for name in order]
    assert sizes == sorted(sizes, reverse=True) and order[-1] == "empty.wav", order
    results, ran, _ = command.run_batch(jobs, done, workers=1, progress=False)
    assert [r.input for r in results] == [r.input for r in ran] == [str(job.path) for job in jobs]
