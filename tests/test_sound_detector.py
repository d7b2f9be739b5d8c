"""The learned sound detector: packaged weights checked by sha256, behaviour on recordings from held-out sources,
reproducible training, the policy reading learned classes, and a continuing alarm reported again after its cooldown.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from listenloop.audio.chunker import Chunk
from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.audio.decode import load_audio
from listenloop.audio.levels import active_span
from listenloop.decision.sounds.policy_file import LEARNED_POLICY, learned_names, load_policy
from listenloop.decision.sounds.sound_policy import SoundPolicy
from listenloop.perception.detector import (
    CARD_FILE,
    WEIGHTS_FILE,
    DetectorError,
    SoundDetector,
    packaged_classes,
)
from listenloop.perception.observation import DetectedSounds, Observation, SoundResult
from listenloop.perception.sounds import N_CLASSES, YamnetTagger, load_class_names
from listenloop.train.sound_set import DEFAULT_ROOT, Split, read_manifest, select

needs_set = pytest.mark.skipif(not (DEFAULT_ROOT / "manifest.csv").is_file(),
                               reason="../shared/audio/train/sounds is not here (real recordings)")


@pytest.fixture(scope="module")
def tagger() -> YamnetTagger:
    return YamnetTagger()


@pytest.fixture(scope="module")
def names() -> tuple[str, ...]:
    return load_class_names() + learned_names()


def test_the_packaged_detector_loads_and_a_changed_file_is_refused(tmp_path):
    detector = SoundDetector()
    assert detector.classes == packaged_classes() and "cough" in detector.classes
    scores = detector.scores(np.zeros((3, 1024), np.float32))
    assert scores.shape == (3, len(detector.classes)) and ((scores >= 0) & (scores <= 1)).all()
    copy = tmp_path / WEIGHTS_FILE
    shutil.copy(detector.path, copy)
    shutil.copy(detector.card_path, tmp_path / CARD_FILE)
    SoundDetector(copy)  # an intact copy loads
    data = bytearray(copy.read_bytes())
    data[-100] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(DetectorError, match="does not match"):
        SoundDetector(copy)


def held_out(folder: str) -> list[Path]:
    """Recordings of a class from the sources the packaged detector never saw (its card's seed)."""
    seed = SoundDetector().card["seed"]
    return [c.path for c in select(read_manifest(), Split.VALIDATION, seed) if c.folder == folder]


def timed_responses(tagger: YamnetTagger, policy: SoundPolicy, clip: np.ndarray) -> list[tuple[float, str]]:
    """(seconds from the clip's start, rule) of each response when the clip is heard between 1 s of room tone and
    2 s after it."""
    rng = np.random.default_rng(0)
    x = np.concatenate([np.zeros(SAMPLE_RATE), clip, np.zeros(2 * SAMPLE_RATE)]).astype(np.float32)
    x += rng.normal(0, 10 ** (-55 / 20), len(x)).astype(np.float32)
    sounds, state, out = tagger.init_state(), policy.init_state(), []
    for k in range(len(x) // SAMPLES_PER_CHUNK):
        chunk = Chunk(k, x[k * SAMPLES_PER_CHUNK : (k + 1) * SAMPLES_PER_CHUNK])
        d = policy.decide(Observation(chunk, sounds=tagger.step(chunk, sounds)), state)
        if d.responds:
            out.append((chunk.t1 - 1.0, str(d.payload["rule"])))
    return out


def responses(tagger: YamnetTagger, policy: SoundPolicy, clip: np.ndarray) -> list[str]:
    """The rules that respond to the clip (see `timed_responses`)."""
    return [rule for _, rule in timed_responses(tagger, policy, clip)]


@needs_set
@pytest.mark.parametrize("files", [(), (LEARNED_POLICY,)], ids=["default", "learned"])
@pytest.mark.parametrize(("folder", "rule"), [("cough", "cough"), ("alarm", "smoke_alarm")])
def test_held_out_coughs_and_alarms_are_answered(tagger, folder, rule, files):
    clips = held_out(folder)[:3]
    assert clips, f"no held-out {folder} recordings"
    policy = SoundPolicy.load(files)
    caught = [rule in responses(tagger, policy, load_audio(p)) for p in clips]
    assert sum(caught) >= max(1, len(clips) - 1), dict(zip([p.name for p in clips], caught, strict=True))


def delay(tagger: YamnetTagger, policy: SoundPolicy, clip: np.ndarray, rule: str) -> float | None:
    """Seconds from the sound's onset (active_span) to `rule`'s first response (see `timed_responses`); None if none."""
    onset = active_span(clip)[0]
    return next((t - onset for t, r in timed_responses(tagger, policy, clip) if r == rule), None)


@needs_set
def test_weak_phone_coughs_and_crying_babies_are_answered_soon(tagger):
    """Held-out coswara "shallow" coughs (the learned cough sits just under its point for several chunks) are asked
    about, and ESC-10's crying babies (AudioSet's class came 2-3.5 s late: they score Babbling first) answered
    within 1.5 s of their onset: the default's cough and baby rules (docs/benchmarks/sounds.md, session 28)."""
    policy = SoundPolicy.load()
    coughs = [p for p in held_out("cough") if "cough-shallow" in p.name]
    babies = [p for p in held_out("baby_crying") if p.name.startswith("esc10")]
    assert coughs and babies
    heard = {p.name: delay(tagger, policy, load_audio(p), "cough") for p in coughs}
    assert all(d is not None for d in heard.values()), heard  # one chunk at the point alone missed one of 19
    cried = {p.name: delay(tagger, policy, load_audio(p), "baby_crying") for p in babies}
    soon = [d is not None and d <= 1.5 for d in cried.values()]
    assert sum(soon) >= len(babies) - 1, cried


@needs_set
@pytest.mark.parametrize("folder", [
    pytest.param("laughing", marks=pytest.mark.xfail(strict=True, reason="measured: the shipped head answers one of "
                                                     "the two held-out laughs as a cough (docs/benchmarks/sounds.md)")),
    "clapping",
])
def test_held_out_laughter_and_clapping_get_no_response(tagger, folder):
    clips = held_out(folder)
    assert clips, f"no held-out {folder} recordings"
    policy = SoundPolicy.load([LEARNED_POLICY])
    heard = {p.name: responses(tagger, policy, load_audio(p)) for p in clips}
    assert all(not r for r in heard.values()), heard


@needs_set
def test_training_is_identical_for_a_seed(tmp_path):
    """A tiny subset (8 clips, 2 synthetic clips per class, 2 epochs) trained twice from one seed: same weights."""
    from listenloop.train.sounds import train

    tagger = YamnetTagger(features="raw", detector=None, embeddings=True)

    def once(out: Path, cache: Path | None = None) -> dict:
        args = argparse.Namespace(data=DEFAULT_ROOT, out=out, seed=3, split="train", limit=8, epochs=2, copies=1,
                                  synth=2, cache=cache)
        train(args, tagger)
        return json.loads((out / CARD_FILE).read_text())

    first, again = once(tmp_path / "a"), once(tmp_path / "b", tmp_path / "cache")
    assert first["sha256"] == again["sha256"] and first["training_clips"] == again["training_clips"]
    assert len(first["training_clips"]) == 8
    assert any((tmp_path / "cache").iterdir())
    assert once(tmp_path / "c", tmp_path / "cache")["sha256"] == first["sha256"]  # from the cache: the same weights


def test_a_synthetic_ring_sounds_like_a_telephone_to_yamnet(tagger):
    """The synthetic rings the detector learns phone_ringing from are what AudioSet's own tagger calls a telephone."""
    from listenloop.train.sound_augment import phone_ring

    rng = np.random.default_rng(0)
    phone = [tagger.index(n) for n in ("Telephone", "Telephone bell ringing", "Ringtone")]
    heard = [float(tagger.offline_tags(phone_ring(rng)).scores[:, phone].max()) for _ in range(6)]
    assert sum(h >= 0.5 for h in heard) >= 4, heard


@needs_set
def test_music_ringtones_do_not_teach_the_phone_class():
    from listenloop.train.sounds import taught

    phones = [c for c in read_manifest() if c.folder == "phone_ringing"]
    kept = {c.path.name for c in phones if taught(c)}
    assert "deb_gnome-audio__sounds_phone.flac" in kept and "deb_xboard__sounds_phone.flac" in kept
    assert not any("lomiri" in name for name in kept) and len(kept) < len(phones)


def detected(classes: tuple[str, ...], scores: dict[str, float]) -> SoundResult:
    """A chunk's observation with the detector's scores written by hand (the policy's input)."""
    v = np.array([scores.get(c, 0.0) for c in classes], np.float32)
    return SoundResult(np.zeros(N_CLASSES, np.float32), detected=DetectedSounds(v, v[None], classes))


def respond_times(policy: SoundPolicy, chunks: list[SoundResult]) -> list[tuple[float, str]]:
    state, out = policy.init_state(), []
    for k, sounds in enumerate(chunks):
        d = policy.decide(Observation(Chunk(k, np.zeros(SAMPLES_PER_CHUNK, np.float32)), sounds=sounds), state)
        if d.responds:
            out.append((round((k + 1) * SAMPLES_PER_CHUNK / SAMPLE_RATE, 1), str(d.payload["rule"])))
    return out


def test_the_learned_policy_reads_learned_classes_and_a_user_can_regroup_them(names):
    classes = packaged_classes()
    policy = SoundPolicy(load_policy([LEARNED_POLICY], names), names)
    assert policy.spec.rule("cough").classes == ("learned:cough", "learned:sneeze")
    sneeze = [detected(classes, {}), detected(classes, {"sneeze": 0.8}), detected(classes, {})]
    assert respond_times(policy, sneeze) == [(0.8, "cough")]
    quiet = [detected(classes, {"sneeze": 0.4})] * 5  # below the operating point
    assert respond_times(policy, quiet) == []
    mine = SoundPolicy(load_policy([LEARNED_POLICY], names, texts=['[rules.sneezes]\naction = "notify"\n'
                                                     'classes = ["learned:sneeze"]\n']), names)
    assert respond_times(mine, sneeze) == [(0.8, "sneezes")]  # the class left the cough rule


def test_a_continuing_alarm_is_reported_once_then_again_after_the_cooldown(names):
    classes = packaged_classes()
    policy = SoundPolicy(load_policy([LEARNED_POLICY], names), names)
    cooldown = policy.spec.rule("smoke_alarm").cooldown
    chunks = [detected(classes, {"smoke_alarm": 0.9})] * int((cooldown + 5) / 0.4)
    times = respond_times(policy, chunks)
    assert [rule for _, rule in times] == ["smoke_alarm", "smoke_alarm"]
    assert times[0][0] == 0.4 and times[1][0] - times[0][0] == pytest.approx(cooldown, abs=0.41)


@needs_set
def test_the_real_recordings_bench_scores_a_folder_and_a_users_policy_beside_the_shipped_ones(tmp_path):
    """`listenloop bench sounds --real DIR --policy FILE` on a folder of class folders (links to held-out recordings):
    coughs are caught by the default, speech is answered by none, and the user's file (coughs ignored) is a column of
    its own that catches none."""
    from listenloop.bench.sounds_real import POLICY_COLUMN, bench, details, report
    from listenloop.perception.sounds import Features

    for folder, count in (("cough", 3), ("speech", 2)):
        (tmp_path / folder).mkdir()
        for clip in held_out(folder)[:count]:
            (tmp_path / folder / clip.name).symlink_to(clip)
    mine = tmp_path / "quiet.toml"
    mine.write_text('[rules.cough]\naction = "ignore"\n')
    tallies, info = bench(tmp_path, Split.ALL, 0, Features.RAW, [mine])
    assert list(tallies) == ["default", "learned", "class-name", POLICY_COLUMN]
    assert tallies["default"].clips == {"cough": 3, "speech": 2} and info["recordings"] == 5
    assert len(tallies["default"].hits.get("cough", [])) >= 2
    assert tallies[POLICY_COLUMN].hits == {} and tallies["default"].responded.get("speech", 0) == 0
    assert "| cough (recall) |" in report(tallies, info)
    assert sum(note.startswith("missed") for note in tallies[POLICY_COLUMN].notes) == 3  # --verbose lists each miss
    assert details(tallies).count("missed") >= 3


def test_the_real_recordings_bench_counts_false_responses_per_hour_of_background_apart():
    """The issue's two measures of responses that should not come: the share of non-target sounds answered (a laugh)
    and false responses per hour of background, counted on the gaps and the ambience recordings (rain) only."""
    from listenloop.bench.sounds_real import Placed, durations, report, tally

    placed = [Placed("rain", "r.flac", 2.0, 2.0, 602.0), Placed("cough", "c.flac", 606.0, 606.5, 608.0),
              Placed("laughing", "l.flac", 612.0, 612.2, 615.0)]
    responses = [(100.0, "dog", 0), (300.0, "dog", 0), (607.2, "cough", 1), (613.0, "cough", 2), (700.0, "knock", -1)]
    t = tally(placed, responses)
    info = {**durations(placed, 720.0), "recordings": 3, "chunk_ms_mean": 0.0, "chunk_ms_p95": 0.0, "wall_s": 0.0}
    assert (t.gap_false, t.ambience_false, t.responded) == (1, 2, {"rain": 1, "laughing": 1})
    assert info["real_ambience_min"] == pytest.approx(10.0)
    assert info["ambience_h"] == pytest.approx((720.0 - 605.0 + 600.0) / 3600)  # gaps + rain, not cough or laugh
    table = report({"p": t}, info).splitlines()
    row = next(r for r in table if "hour of background" in r)
    assert row.endswith(f"| {3 / info['ambience_h']:.1f} |")
    assert "| cough (recall) | 1/1 = 100%, 0.70 / 0.70 s |" in table  # each class with its delay p50 / p95


@needs_set
def test_the_real_recordings_bench_refuses_a_detector_that_trained_on_the_clips_it_would_validate():
    """The packaged detector trained on the training side of seed 0's split: seed 0's validation split is held out
    from it, seed 1's is not (its clips were drawn from other groups), so that bench is refused, naming the fix."""
    from listenloop.bench.sounds_real import held_out_detector

    assert held_out_detector(None, DEFAULT_ROOT, Split.VALIDATION, 0).card["seed"] == 0
    with pytest.raises(DetectorError, match="validation split of seed 1 holds clips it trained on"):
        held_out_detector(None, DEFAULT_ROOT, Split.VALIDATION, 1)
    assert held_out_detector(None, DEFAULT_ROOT, Split.TRAIN, 1).classes == packaged_classes()
