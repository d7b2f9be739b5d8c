"""The stream builder: labels match streams whose truth is known, builds repeat for a seed, inputs are checked."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from listenloop.audio.constants import CHUNK_SECONDS, SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.audio.decode import load_audio
from listenloop.data import build, content, mixing, sentences
from listenloop.data.compose import REPLY_MIN_DELAY_S, Deck, labels_for
from listenloop.data.manifest import NO_RESPONSE, SILENT_LABEL, Turn, TurnKind, read_manifest
from listenloop.synthesis.synth import espeak
from listenloop.vocabulary import Mode, Task


def args_for(out, **kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    build.add_arguments(parser)
    argv = ["--out", str(out), "--engines", "espeak", "--workers", "1", "--quiet"]
    for key, value in kw.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def sounds_dir(tmp_path_factory):
    """Two sound files named like the classes they stand for: a doorbell (answered) and rain (ignored)."""
    folder = tmp_path_factory.mktemp("sounds")
    t = np.arange(int(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
    ding = (0.3 * np.sin(2 * np.pi * 660 * t) * np.exp(-3 * t)).astype(np.float32)
    rain = (0.05 * np.random.default_rng(0).standard_normal(3 * SAMPLE_RATE)).astype(np.float32)
    mixing.write_flac(folder / "doorbell.flac", ding)
    mixing.write_flac(folder / "rain.flac", rain)
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory, sounds_dir):
    out = tmp_path_factory.mktemp("built")
    assert build.run(args_for(out, streams=3, seconds=25, seed=7, sounds=sounds_dir, telephone_fraction=0)) == 0
    streams = list(read_manifest(out / build.MANIFEST_NAME))
    return out, streams


def test_reply_is_due_in_the_chunk_where_it_can_start():
    # chunk 2 spans [0.8, 1.2) s: a turn ending at 1.00 s can be answered inside it (1.04 s); one ending at 1.17 s
    # can be answered only from 1.21 s, in chunk 3; a turn needing no reply labels nothing
    turns = [
        Turn("a?", "<answer>", kind=TurnKind.QUESTION, t0=0.2, t1=1.0, task=Task.ANSWER),
        Turn("b?", "<answer>", kind=TurnKind.QUESTION, t0=2.0, t1=2.77, task=Task.ANSWER),
        Turn("c.", NO_RESPONSE, kind=TurnKind.STATEMENT, t0=4.0, t1=5.0),
        Turn("[sound: dog]", "A dog.", kind=TurnKind.SOUND, t0=6.0, t1=7.17, task=Task.NOTIFY),
    ]
    labels = labels_for(turns, 25)
    expected = [SILENT_LABEL] * 25
    expected[2], expected[7], expected[18] = "answer", "answer", "notify"
    assert list(labels) == expected
    assert REPLY_MIN_DELAY_S == pytest.approx(0.04)


def test_streams_are_whole_chunks_and_labels_sit_at_the_turn_ends(built):
    out, streams = built
    assert len(streams) == 3
    for stream in streams:
        audio = load_audio(out / stream.audio_path)
        assert len(audio) % SAMPLES_PER_CHUNK == 0
        assert stream.num_chunks == len(audio) // SAMPLES_PER_CHUNK
        assert stream.duration_s == pytest.approx(len(audio) / SAMPLE_RATE)
        due = sorted(int((t.t1 + REPLY_MIN_DELAY_S) / CHUNK_SECONDS) for t in stream.turns if t.task is not None)
        labelled = [i for i, label in enumerate(stream.labels) if label != SILENT_LABEL]
        assert labelled == due
        assert all(t.audio_path == stream.audio_path for t in stream.turns)


def test_turn_times_match_the_audio(tmp_path, sounds_dir):
    """Inside a turn the stream is loud; in the gaps between turns only the room floor remains."""
    out = tmp_path / "clean"
    assert build.run(args_for(out, streams=1, seconds=30, seed=5, sounds=sounds_dir, snrs="none",
                              telephone_fraction=0)) == 0
    (stream,) = read_manifest(out / build.MANIFEST_NAME)
    assert stream.snr_db is None and len(stream.turns) >= 4
    audio = load_audio(out / stream.audio_path)
    spans = sorted((t.t0, t.t1) for t in stream.turns)
    for (a0, a1), (b0, _) in zip(spans, spans[1:], strict=False):
        inside = audio[int(a0 * SAMPLE_RATE) : int(a1 * SAMPLE_RATE)]
        gap = audio[int(a1 * SAMPLE_RATE) + 160 : int(b0 * SAMPLE_RATE) - 160]
        if len(gap) > SAMPLE_RATE // 10:
            assert mixing.rms(gap) < 1.5 * 10 ** (mixing.FLOOR_LEVEL_DBFS[1] / 20)  # nothing but the floor
            assert mixing.active_rms(inside) > 2 * mixing.rms(gap)


def test_hesitation_pauses_are_silent_and_inside_their_turn():
    from listenloop.data.compose import Composer, Material

    rng = np.random.default_rng(3)
    composer = Composer(rng, Material(engines=("espeak",)), mode=Mode.ASSISTANT)
    for _ in range(4):
        composer.hesitation()
        composer.line.gap(1.0)
    audio = composer.line.audio()
    turns = [t for t in composer.line.turns if t.kind is TurnKind.HESITATION]
    assert turns, "no sentence had a place to hesitate"
    for turn in turns:
        assert turn.pauses and turn.t0 < turn.pauses[0].t0 and turn.pauses[-1].t1 < turn.t1
        assert "..." in turn.user
        speech = mixing.active_rms(audio[int(turn.t0 * SAMPLE_RATE) : int(turn.t1 * SAMPLE_RATE)])
        for pause in turn.pauses:
            assert pause.t1 - pause.t0 >= 0.7  # longer than the silence timeouts it must not trigger
            quiet = audio[int(pause.t0 * SAMPLE_RATE) + 80 : int(pause.t1 * SAMPLE_RATE) - 80]
            # a filler may sit in the middle of the pause; its edges are silent
            assert mixing.rms(quiet[:1600]) < speech / 10 and mixing.rms(quiet[-1600:]) < speech / 10


def test_a_broken_sentence_is_spoken_in_one_breath_and_its_first_piece_does_not_fall():
    from listenloop.bench.hesitations import final_pitch_hz
    from listenloop.data.speakers import trim
    from listenloop.synthesis.synth import espeak, espeak_broken

    pieces = ["How do I get a red wine stain out of", "a carpet?"]
    head, tail = (trim(x) for x in espeak_broken(pieces))
    alone = trim(espeak(pieces[0]))
    # said alone, the words end a sentence and the voice falls; cut from the whole sentence, it stays up
    assert final_pitch_hz(head) > 1.1 * final_pitch_hz(alone)
    whole = trim(espeak(" ".join(pieces)))
    assert abs(len(head) + len(tail) - len(whole)) < 0.1 * len(whole)  # nothing lost or doubled at the cut


def test_piper_cuts_a_sentence_between_words_without_the_final_lengthening():
    from listenloop.data.speakers import trim
    from listenloop.synthesis.synth import piper, piper_broken

    pieces = ["How far is", "the nearest train station from here?"]
    head, tail = (len(trim(x)) for x in piper_broken(pieces))
    alone = len(trim(piper(pieces[0])))
    assert head < 0.85 * alone  # a finished sentence slows down on its last word; this one goes on (0.74 over six)
    whole = len(trim(piper(" ".join(pieces))))
    assert abs(head + tail - whole) < 0.08 * whole  # nothing lost or doubled at the cut
    # piper says "in the" as one word: no cut between them, the caller speaks the pieces one by one
    assert piper_broken(["How do I reset the router in", "the living room?"]) is None


def _piper_elsewhere(text: str) -> np.ndarray:
    from listenloop.synthesis.synth import piper

    return piper(text)


def test_piper_says_one_sentence_one_way_in_any_process():
    """Piper's graph draws its noise unseeded; the voice feeds it from what is said (synthesis/piper_voice.py), so a
    build is determined by its seed whichever worker speaks a turn."""
    import multiprocessing

    from piper import SynthesisConfig

    from listenloop.synthesis.synth import _piper_voice, piper

    text = "It's on the hook by the door."
    here = piper(text)
    assert np.array_equal(here, piper(text))
    with multiprocessing.get_context("spawn").Pool(1) as pool:  # as the builder's workers are started
        assert np.array_equal(here, pool.apply(_piper_elsewhere, (text,)))
    assert len(piper(text, 1.3)) < 0.85 * len(here)
    # the noise is still there (a voice without it is flat): the same sentence without noise is another signal
    voice, flat = _piper_voice(), SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    without = np.concatenate([c.audio_float_array for c in voice.synthesize(text, flat)])
    assert not np.array_equal(without, np.concatenate([c.audio_float_array for c in voice.synthesize(text)]))


def test_a_voice_graph_without_the_noise_nodes_is_refused():
    from onnx import TensorProto, helper

    from listenloop.synthesis.piper_voice import VoiceGraphError, seed_noise

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y]))
    with pytest.raises(VoiceGraphError, match="expected 2 RandomNormalLike"):
        seed_noise(model)


def test_sounds_are_answered_by_their_class(built):
    _, streams = built
    sounds = [t for s in streams for t in s.turns if t.kind is TurnKind.SOUND]
    assert sounds, "three 25 s streams drew no sound turn"
    for turn in sounds:
        if turn.source.startswith("doorbell"):
            assert turn.task is Task.NOTIFY and turn.needs_response
        else:
            assert turn.task is None and turn.assistant == NO_RESPONSE


def test_not_addressed_speech_never_gets_a_label(built):
    _, streams = built
    for stream in streams:
        for turn in stream.turns:
            if turn.kind in (TurnKind.CROSSTALK, TurnKind.TELEVISION):
                assert not turn.addressed and turn.task is None


def test_a_stream_says_no_sentence_twice(built):
    _, streams = built
    for stream in streams:
        said = [turn.user for turn in stream.turns
                if turn.kind in (TurnKind.QUESTION, TurnKind.REQUEST, TurnKind.STATEMENT)]
        assert len(said) == len(set(said)), f"{stream.id} says a sentence twice: {said}"


def test_a_deck_says_every_line_once_before_any_again():
    deck, rng = Deck(("a", "b", "c")), np.random.default_rng(0)
    first = [deck.draw(rng) for _ in range(3)]
    assert sorted(first) == ["a", "b", "c"]
    assert deck.draw(rng) in ("a", "b", "c")  # all said: the deck starts over rather than running dry


def test_the_held_out_half_is_more_than_a_handful_of_sentences_and_each_reads_as_its_kind():
    """A held-out half of 9 questions let one sentence make a third of a validation build's interruptions."""
    lists = {"questions": sentences.QUESTIONS, "requests": sentences.REQUESTS, "statements": sentences.STATEMENTS}
    for name, lines in lists.items():
        held_out = content.in_split(lines, "test")
        assert len(held_out) >= 14 and len(lines) - len(held_out) >= 60, name
        assert len(set(lines)) == len(lines), f"a line is in the {name} twice"
    everything = [*sentences.QUESTIONS, *sentences.REQUESTS, *sentences.STATEMENTS, *sentences.TELEVISION]
    assert len(set(everything)) == len(everything), "a line in two lists would get two labels"
    assert all(q.endswith("?") for q in sentences.QUESTIONS)
    assert not any(line.endswith("?") for line in sentences.REQUESTS + sentences.STATEMENTS)
    breakable = [q for q in content.in_split(sentences.QUESTIONS, "test") if content.hesitation_cuts(q.split())]
    assert len(breakable) >= 25  # held-out questions the builder can break with a pause


def test_same_seed_same_streams_whatever_the_workers(tmp_path, sounds_dir, built):
    out, streams = built
    again = tmp_path / "again"
    args = args_for(again, streams=3, seconds=25, seed=7, sounds=sounds_dir, telephone_fraction=0)
    args.workers = 2
    assert build.run(args) == 0
    assert (again / build.MANIFEST_NAME).read_text() == (out / build.MANIFEST_NAME).read_text()
    for stream in streams:
        assert np.array_equal(load_audio(again / stream.audio_path), load_audio(out / stream.audio_path))
    other = tmp_path / "other"
    assert build.run(args_for(other, streams=1, seconds=25, seed=8, sounds=sounds_dir)) == 0
    assert (other / build.MANIFEST_NAME).read_text() != (out / build.MANIFEST_NAME).read_text()


def test_same_seed_same_streams_with_piper_voices(tmp_path, sounds_dir):
    """Piper draws noise in its graph: the builder feeds it from what is said (synthesis/piper_voice.py)."""
    built = []
    for workers in (1, 2):
        args = args_for(tmp_path / f"w{workers}", streams=2, seconds=20, seed=3, sounds=sounds_dir,
                        telephone_fraction=0)
        args.engines, args.workers = "espeak,piper", workers
        assert build.run(args) == 0
        built.append(tmp_path / f"w{workers}")
    manifest = (built[0] / build.MANIFEST_NAME).read_text()
    assert '"source": "piper:' in manifest and (built[1] / build.MANIFEST_NAME).read_text() == manifest
    for stream in read_manifest(built[0] / build.MANIFEST_NAME):
        assert np.array_equal(load_audio(built[0] / stream.audio_path), load_audio(built[1] / stream.audio_path))


def test_telephone_band_removes_what_a_phone_cannot_carry():
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(SAMPLE_RATE).astype(np.float32) * 0.1
    phone = mixing.telephone(noise)
    spectrum = np.abs(np.fft.rfft(phone)) ** 2
    freqs = np.fft.rfftfreq(len(phone), 1 / SAMPLE_RATE)
    inside = spectrum[(freqs > 500) & (freqs < 3000)].mean()
    assert spectrum[freqs > 4200].mean() < inside / 100
    assert spectrum[freqs < 200].mean() < inside / 100


def test_streamaudio_manifest_clips_are_stitched_and_labelled(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    mixing.write_flac(clips / "q.flac", espeak("What is the capital of France?"))
    mixing.write_flac(clips / "s.flac", espeak("I am just talking to myself."))
    line = {"id": "sa2m-1", "stream_scene_type": "chat", "num_turns": 2, "turns": [
        {"user": "What is the capital of France?", "assistant": "Paris.", "emotion": "normal", "scene_type": "qa",
         "audio_path": "clips/q.flac"},
        {"user": "I am just talking to myself.", "assistant": NO_RESPONSE, "emotion": "normal",
         "scene_type": "chat", "audio_path": "clips/s.flac"}]}
    manifest = tmp_path / "sa2m.jsonl"
    manifest.write_text(json.dumps(line) + "\n")
    out = tmp_path / "out"
    assert build.run(args_for(out, from_manifest=manifest)) == 0
    (stream,) = read_manifest(out / build.MANIFEST_NAME)
    question, statement = stream.turns
    assert stream.id == "sa2m-1" and stream.built
    assert question.task is Task.ANSWER and statement.task is None
    assert question.assistant == "Paris." and question.t1 < statement.t0
    assert [i for i, x in enumerate(stream.labels) if x != SILENT_LABEL] == [
        int((question.t1 + REPLY_MIN_DELAY_S) / CHUNK_SECONDS)]


@pytest.mark.parametrize(
    ("kw", "message"),
    [({"sounds": "/nonexistent/sounds"}, "no such sounds folder"),
     ({"engines": "festival"}, "--engines must name"),
     ({"streams": 0}, "must be positive"),
     ({"snrs": "loud"}, "--snrs must be numbers"),
     ({"speech_list": "/nonexistent/list.tsv"}, "no such speech list")],
)
def test_bad_build_input_is_one_clear_line(tmp_path, capsys, kw, message):
    assert build.run(args_for(tmp_path / "o", **kw)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_builders_sound_labels_are_the_shipped_sound_policys_answers():
    """The learned model learns the builder's labels and the rules follow the policy file: they must agree (a car horn
    and thunder once were an alert and a notice to the builder, and nothing to the policy)."""
    from listenloop.data.content import SOUND_RULES, sound_rule
    from listenloop.decision.sounds.sound_policy import SoundPolicy

    policy = {r.name: r for r in SoundPolicy.load().spec.rules}
    same_rule = {"alarm": "smoke_alarm", "breaking glass": "glass", "gunshots": "gunshot", "scream": "scream",
                 "cough": "cough", "baby crying": "baby_crying", "dog": "dog", "doorbell": "doorbell",
                 "telephone": "telephone"}
    assert {r.label for r in SOUND_RULES} == set(same_rule)
    for rule in SOUND_RULES:
        shipped = policy[same_rule[rule.label]]
        assert (rule.task.value, rule.emotion) == (shipped.action.value, shipped.urgency), rule.label
    for stem in ("car-horn", "thunder", "rain", "typing", "piano"):
        assert sound_rule(stem) is None, stem


def test_a_sound_files_class_comes_from_the_words_of_its_name():
    """Keywords match whole words by their start: "snoring" and "crowd_cheering" hold "ring" and were labelled a
    telephone the listener must be told about, a reply no policy could give (both in ../shared/audio/dev/sounds)."""
    from listenloop.data.content import sound_rule

    for stem in ("snoring", "crowd_cheering", "humpback", "typing", "train", "car_engine"):
        assert sound_rule(stem) is None, stem
    expected = {"telephone": "telephone", "phone_ringing": "telephone", "smoke_alarm": "alarm", "gunshots": "gunshots",
                "dog-barking": "dog", "Doorbell2": "doorbell", "baby_crying": "baby crying", "sneezing": "cough",
                "glass_breaking": "breaking glass"}
    assert {stem: getattr(sound_rule(stem), "label", None) for stem in expected} == expected


def test_the_hesitation_bench_finds_the_cut_pieces_higher_and_shorter(capsys):
    import argparse

    from listenloop.bench import hesitations

    assert hesitations.run(argparse.Namespace(limit=4)) == 0
    rows = {line.split("|")[1].strip(): line.split("|") for line in capsys.readouterr().out.splitlines()
            if line.startswith("| espeak-ng") or line.startswith("| piper")}
    assert float(rows["espeak-ng"][3]) > 1.05 and float(rows["piper"][3]) < 0.95


def test_relabel_gives_an_old_build_todays_labels_and_keeps_the_old_manifest(tmp_path, built, capsys):
    """A build labelled by an older builder (here: rain as a telephone, the doorbell ignored) gets the labels a build
    gives now, its turns and chunks alike; the audio is not touched and the old manifest is kept beside it."""
    from dataclasses import replace

    from listenloop.data import relabel
    from listenloop.data.manifest import write_manifest

    out, streams = built
    wrong = {"doorbell": {"user": "[sound: background]", "assistant": NO_RESPONSE, "task": None},
             "rain": {"user": "[sound: telephone]", "assistant": "Your phone is ringing.", "task": Task.NOTIFY}}

    def mislabel(turn: Turn) -> Turn:
        return replace(turn, **wrong[turn.source.split(".")[0]]) if turn.kind is TurnKind.SOUND else turn

    old = []
    for stream in streams:
        turns = tuple(mislabel(t) for t in stream.turns)
        old.append(replace(stream, turns=turns, labels=labels_for(turns, stream.num_chunks)))
    assert old != streams, "the fixture's streams drew no sound turn"
    manifest = tmp_path / build.MANIFEST_NAME
    write_manifest(manifest, old)
    written = manifest.read_text()
    parser = argparse.ArgumentParser()
    relabel.add_arguments(parser)

    assert relabel.run(parser.parse_args([str(tmp_path), "--dry-run"])) == 0
    assert manifest.read_text() == written and "would change" in capsys.readouterr().out
    assert relabel.run(parser.parse_args([str(tmp_path)])) == 0
    assert list(read_manifest(manifest)) == streams
    assert (tmp_path / (build.MANIFEST_NAME + relabel.BACKUP_SUFFIX)).read_text() == written
    done = relabel.relabel_manifest(manifest)
    assert (done.turns_changed, done.chunks_changed) == (0, 0)
    assert (relabel.relabel_manifest(out / build.MANIFEST_NAME, write=False).turns_changed) == 0
