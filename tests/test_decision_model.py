"""The learned decision: its file is checked on load, training learns something real, the policy behaves."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.data import build, mixing
from listenloop.decision.model.features import FEATURE_NAMES, N_FEATURES, TEXT_CUES, FeatureExtractor, text_features
from listenloop.decision.model.learned import CLASSES, WEIGHTS_PATH, DecisionModel, DecisionModelError, LearnedPolicy
from listenloop.offline import observations as offline_observations
from listenloop.train import decision as train_decision
from listenloop.train import features as train_features
from listenloop.train import fit as train_fit
from listenloop.train import targets as train_targets
from listenloop.train import tune as train_tune
from listenloop.vocabulary import Mode, Task


def tiny_model(threshold: float = 0.5) -> DecisionModel:
    rng = np.random.default_rng(0)
    return DecisionModel(np.zeros(N_FEATURES, np.float32), np.ones(N_FEATURES, np.float32),
                         rng.standard_normal((N_FEATURES, 4)).astype(np.float32), np.zeros(4, np.float32),
                         rng.standard_normal((4, len(CLASSES))).astype(np.float32),
                         np.zeros(len(CLASSES), np.float32), threshold, {"seed": "0"})


def test_missing_model_file_names_the_command_that_makes_one(tmp_path):
    with pytest.raises(DecisionModelError, match="not found.*listenloop train decision"):
        DecisionModel.load(tmp_path / "missing.npz")


def test_corrupt_model_file_fails_clearly(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive" * 10)
    with pytest.raises(DecisionModelError, match="corrupt decision model"):
        DecisionModel.load(path)
    truncated = tmp_path / "truncated.npz"
    tiny_model().save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(DecisionModelError, match="corrupt"):
        DecisionModel.load(truncated)


def test_a_file_of_other_arrays_or_features_is_refused(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    with pytest.raises(DecisionModelError, match="not a decision model"):
        DecisionModel.load(other)
    model = tiny_model()
    stale = tmp_path / "stale.npz"
    arrays = dict(format=np.int64(1), feature_names=np.array(FEATURE_NAMES[:-1] + ("old",)), mean=model.mean,
                  std=model.std, w1=model.w1, b1=model.b1, w2=model.w2, b2=model.b2, threshold=np.float64(0.5))
    np.savez(stale, **arrays)
    with pytest.raises(DecisionModelError, match="other features"):
        DecisionModel.load(stale)


def test_saved_model_loads_back_identically(tmp_path):
    model = tiny_model(0.35)
    model.save(tmp_path / "m.npz")
    back = DecisionModel.load(tmp_path / "m.npz")
    x = np.random.default_rng(1).standard_normal((5, N_FEATURES)).astype(np.float32)
    np.testing.assert_allclose(back.probs(x), model.probs(x), rtol=1e-6)
    assert back.threshold == pytest.approx(0.35) and back.meta == {"seed": "0"}


def test_text_cues_tell_questions_from_unfinished_sentences():
    question = text_features("What time does the library open?", "What time does the")
    unfinished = text_features("I was thinking about the", "I was thinking")
    assert question[2] == 1.0 and question[3] == 1.0 and question[5] == 0.0  # "?", question word, not open
    assert unfinished[2] == 0.0 and unfinished[5] == 1.0  # no "?", ends on an open word
    assert text_features("", "") == [0.0] * TEXT_CUES


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    """Ten short built streams (espeak, a doorbell and rain) and their perception features (no recognizer)."""
    folder = tmp_path_factory.mktemp("sounds")
    t = np.arange(int(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
    mixing.write_flac(folder / "doorbell.flac", (0.3 * np.sin(2 * np.pi * 660 * t) * np.exp(-3 * t)).astype("f4"))
    mixing.write_flac(folder / "rain.flac", (0.05 * np.random.default_rng(0).standard_normal(48000)).astype("f4"))
    out = tmp_path_factory.mktemp("tiny")
    parser = argparse.ArgumentParser()
    build.add_arguments(parser)
    args = parser.parse_args(["--out", str(out), "--streams", "10", "--seconds", "24", "--seed", "11",
                              "--engines", "espeak", "--sounds", str(folder), "--workers", "2", "--quiet",
                              "--transcribe-fraction", "0", "--snrs", "none,20"])
    assert build.run(args) == 0
    return train_features.load_features(out / build.MANIFEST_NAME, asr=False, progress=False)


def test_training_on_a_tiny_set_beats_chance_on_its_held_out_part(tiny_set):
    fit_part, held_out = train_tune.split_streams(tiny_set, seed=0)
    model = train_fit.fit(fit_part, seed=0, epochs=40)
    threshold, learned = train_tune.tune_threshold(model, fit_part)
    learned = train_tune.score(model, held_out, threshold)
    assert learned.due > 0
    # chance: the same number of responses at random chunks, averaged over many draws
    rng = np.random.default_rng(0)
    share = max(learned.responses, 1) / sum(len(h.y) for h in held_out)

    def fire(f):
        return rng.random(len(f.y)) < share

    chance = []
    for _ in range(50):
        chance.append(train_tune.score(model, held_out, threshold, respond_fn=fire).f1)
    assert learned.f1 > np.mean(chance) + 0.15
    # and respond probability is higher where a reply is due than where it is not
    p = np.concatenate([1 - model.probs(f.x)[:, 0] for f in held_out])
    y = np.concatenate([f.y for f in held_out])
    assert p[y > 0].mean() > 2 * p[y == 0].mean()


def test_training_is_identical_for_a_seed(tiny_set):
    a = train_fit.fit(tiny_set[:4], seed=3, epochs=3)
    b = train_fit.fit(tiny_set[:4], seed=3, epochs=3)
    c = train_fit.fit(tiny_set[:4], seed=4, epochs=3)
    assert np.array_equal(a.w1, b.w1) and np.array_equal(a.w2, b.w2)
    assert not np.array_equal(a.w1, c.w1)


def test_shipped_model_loads_and_decides_on_real_observations(speech_question):
    """The packaged weights drive a policy over the engine's own perception of a spoken question."""
    from conftest import pad

    from listenloop.perception.offline import build_perception, observe

    model = DecisionModel.load(WEIGHTS_PATH)
    perception = build_perception(asr=True, sounds=True)
    policy = LearnedPolicy(Mode.ASSISTANT, model, perception.tagger.names)
    state = policy.init_state()
    audio = pad(speech_question, 0.6, 2.0)
    decisions = [(obs.chunk.t1, policy.decide(obs, state)) for obs in observe(perception, audio)]
    end = 0.6 + len(speech_question) / SAMPLE_RATE
    fired = [(t, d) for t, d in decisions if d.responds]
    assert fired, "the shipped model never answered a plain question"
    t, first = fired[0]
    assert end - 0.05 <= t <= end + 1.2 and first.task is Task.ANSWER
    assert len(fired) == 1  # once per question: silence afterwards does not re-trigger


def test_feature_vector_has_the_documented_length():
    from listenloop.audio.chunker import Chunk
    from listenloop.perception.observation import Observation, VadResult

    extractor = FeatureExtractor(None)
    state = extractor.init_state(Mode.TRANSCRIBE)
    chunk = Chunk(0, np.zeros(6400, np.float32))
    obs = Observation(chunk, vad=VadResult(np.zeros(12, np.float32), False))
    x = extractor.step(obs, state)
    assert x.shape == (N_FEATURES,) and np.isfinite(x).all()
    assert x[FEATURE_NAMES.index("mode_transcribe")] == 1.0


def _feature(x: np.ndarray, name: str) -> float:
    return float(x[FEATURE_NAMES.index(name)])


def _observation(index: int, speech: bool, ended_at: float | None = None, partial: tuple[int, str] | None = None,
                 closed: tuple[int, float, float, str] | None = None, final_text: str = ""):
    """One chunk as perception reports it: voice activity, a new partial (segment, text), a closed segment (last
    partial) with its final text, already decoded."""
    from concurrent.futures import Future

    from listenloop.audio.chunker import Chunk
    from listenloop.perception.observation import AsrResult, FinalText, Observation, PartialText, SegmentEnd, VadResult

    chunk = Chunk(index, np.zeros(6400, np.float32))
    vad = VadResult(np.full(12, 0.9 if speech else 0.05, np.float32), speech, ended_at=ended_at)
    asr = AsrResult()
    if partial is not None:
        asr = AsrResult(partial=PartialText(partial[0], 0.0, chunk.t1, partial[1], ""))
    if closed is not None:
        final: Future[FinalText] = Future()
        final.set_result(FinalText(closed[0], closed[1], closed[2], final_text, None))
        asr = AsrResult(ended=SegmentEnd(closed[0], closed[1], closed[2], np.zeros(0, np.float32), closed[3], final))
    return Observation(chunk, vad=vad, asr=asr)


def test_a_segment_too_short_for_text_never_shows_an_older_segments_text():
    """The first piece of a broken sentence is too short for a partial: its features say "no text", not the question
    asked ten seconds earlier (which the extractor used to carry over)."""
    extractor = FeatureExtractor(None)
    state = extractor.init_state()
    extractor.step(_observation(0, True, partial=(0, "What time is it?")), state)
    extractor.step(_observation(1, False, ended_at=0.5, closed=(0, 0.0, 0.7, "What time is it?")), state)
    for i in range(2, 25):
        extractor.step(_observation(i, False), state)
    extractor.step(_observation(25, True), state)
    x = extractor.step(_observation(26, False, ended_at=10.5, closed=(1, 10.0, 10.7, "")), state)
    assert _feature(x, "txt_has@0") == 0.0 and _feature(x, "txt_qmark@0") == 0.0
    assert _feature(x, "txt_none@0") == 1.0 and _feature(x, "txt_segment_end@0") == 1.0
    assert _feature(x, "join_has@0") == 0.0  # ten seconds apart: not one sentence


@pytest.mark.parametrize("final_text", ["", "the airport leave?"])
def test_a_final_covers_its_whole_segment_so_no_speech_lacks_text(final_text):
    """The last piece of a broken question, too short for any partial: until its final is in, all 0.8 s of it lack
    words; once the final's text is in, none does (the lag stayed at 0.8 s and the model read every broken
    question's end as speech not yet heard)."""
    extractor = FeatureExtractor(None)
    state = extractor.init_state()
    extractor.step(_observation(0, True), state)
    extractor.step(_observation(1, True), state)
    x = extractor.step(_observation(2, False, ended_at=1.0, closed=(0, 0.2, 1.0, ""), final_text=final_text), state)
    assert _feature(x, "txt_segment_end@0") == 1.0
    assert _feature(x, "txt_final@0") == float(bool(final_text))
    assert _feature(x, "txt_lag@0") == pytest.approx(0.0 if final_text else 0.8, abs=1e-6)


def test_text_features_see_the_speech_the_partial_missed_and_the_segment_before():
    """A partial decoded up to 0.8 s while the voice went on to 1.2 s lacks 0.4 s of words; a segment starting
    right after one that stopped on an open word continues its sentence."""
    extractor = FeatureExtractor(None)
    state = extractor.init_state()
    extractor.step(_observation(0, True), state)
    extractor.step(_observation(1, True, partial=(0, "What time does")), state)
    x = extractor.step(_observation(2, False, ended_at=1.2), state)
    assert _feature(x, "txt_lag@0") == pytest.approx(0.4, abs=1e-6)
    assert _feature(x, "txt_open_end@0") == 1.0
    extractor.step(_observation(3, False, closed=(0, 0.0, 1.4, "What time does")), state)
    extractor.step(_observation(4, True), state)
    extractor.step(_observation(5, True, partial=(1, "the library open")), state)
    x = extractor.step(_observation(6, False, ended_at=2.5), state)
    assert _feature(x, "txt_qword@0") == 0.0 and _feature(x, "join_qword@0") == 1.0
    assert _feature(x, "join_words@0") > _feature(x, "txt_words@0")


def test_the_model_reads_a_sentence_joined_across_a_filler_and_two_pauses():
    """"When does the... you know... next bus to... the airport leave?": the last piece's join features read the
    whole question (it starts with a question word, and is longer than its piece), skipping the filler segment;
    before sentence.py they read "You know. the airport leave?"."""
    extractor = FeatureExtractor(None)
    state = extractor.init_state()
    pieces = ["When does the", "You know.", "next bus to", "the airport leave?"]
    x, t = None, 0.0
    for segment, text in enumerate(pieces):
        i = segment * 3
        extractor.step(_observation(i, True, partial=(segment, text)), state)
        extractor.step(_observation(i + 1, False, ended_at=t + 0.8, closed=(segment, t, t + 0.8, text)), state)
        if segment < len(pieces) - 1:
            extractor.step(_observation(i + 2, False), state)
        t += 1.2
    x = extractor.step(_observation(12, True, partial=(3, "the airport leave?")), state)
    assert _feature(x, "txt_qword@0") == 0.0 and _feature(x, "join_qword@0") == 1.0
    assert _feature(x, "join_words@0") == pytest.approx(9 / 20)  # when does the next bus to the airport leave


def test_a_finished_sentence_does_not_join_the_piece_after_it_and_a_filler_piece_is_marked():
    """"What time is it?" then, 0.8 s later, "Tell me a joke.": the request is read alone (join_qword 0, as many
    words as its piece); before, any piece within JOIN_GAP_S joined the one before, so a plain question after a
    statement read as a statement and the join cues meant little. A piece that is only a filler says so."""
    extractor = FeatureExtractor(None)
    state = extractor.init_state()
    extractor.step(_observation(0, True, partial=(0, "What time is it?")), state)
    extractor.step(_observation(1, False, ended_at=0.8, closed=(0, 0.0, 0.8, "What time is it?")), state)
    extractor.step(_observation(2, True, partial=(1, "Tell me a joke.")), state)
    x = extractor.step(_observation(3, False, ended_at=1.6, closed=(1, 1.0, 1.6, "Tell me a joke.")), state)
    assert _feature(x, "join_qword@0") == 0.0 and _feature(x, "join_request@0") == 1.0
    assert _feature(x, "join_words@0") == _feature(x, "txt_words@0")
    assert _feature(x, "txt_filler@0") == 0.0
    x = extractor.step(_observation(4, True, partial=(2, "You know.")), state)
    assert _feature(x, "txt_filler@0") == 1.0 and _feature(x, "txt_filler_end@0") == 0.0


def test_benchmark_and_training_judge_interruptions_and_speech_not_for_us_alike():
    """A reply in the pause of an unfinished sentence interrupts it, one after its end does not; a reply during speech
    not for us or up to 1.2 s after it answers that speech; a reply to a smoke alarm while it rings is in time.
    Threshold tuning counts exactly what the bench counts."""
    from listenloop.bench.decisions import Tally, judge
    from listenloop.data.compose import labels_for
    from listenloop.data.manifest import NO_RESPONSE, Pause, Stream, Turn, TurnKind

    turns = (Turn("What time does the... um... library open?", "<answer>", kind=TurnKind.HESITATION, t0=1.0,
                  t1=4.1, task=Task.ANSWER, pauses=(Pause(2.0, 3.0),)),
             Turn("Sarah, what time is your train?", NO_RESPONSE, kind=TurnKind.CROSSTALK, t0=6.0, t1=7.5,
                  addressed=False),
             Turn("The news at nine.", NO_RESPONSE, kind=TurnKind.TELEVISION, t0=10.0, t1=11.9, addressed=False),
             Turn("[sound: smoke alarm]", "<alert>", kind=TurnKind.SOUND, t0=13.6, t1=15.0, task=Task.ALERT))
    stream = Stream("s", "test", turns, audio_path="s.flac", labels=labels_for(turns, 40))
    y, w, spans = train_targets.targets(stream, 40)
    assert w[5] == train_targets.HARD_NEGATIVE_WEIGHT and y[10] == CLASSES.index(Task.ANSWER)
    cases = (((2.4, 4.4, 8.0, 13.2), 1, 1, 1), ((4.4, 13.2), 0, 0, 1), ((3.6, 12.8), 1, 1, 0),
             ((4.4, 14.0), 0, 0, 2), ((4.4, 16.0), 0, 0, 2))  # times, interrupted, answered not for us, hits
    for times, interrupted, answered, hits in cases:
        tally = Tally()
        judge(stream, [(t, Task.ANSWER) for t in times], tally, 16.0)
        fired = np.zeros(40, bool)
        fired[[round(t / 0.4) - 1 for t in times]] = True
        features = train_targets.StreamFeatures("s", np.zeros((40, 1), np.float32), y, w, spans)
        scored = train_tune.score(None, [features], 0.5, respond_fn=lambda f, fired=fired: fired)
        assert (tally.interrupted, tally.answered_not_addressed, tally.hits) == (interrupted, answered, hits)
        assert (scored.interrupted, scored.answered, scored.hits) == (interrupted, answered, tally.hits)
        assert (scored.unfinished, scored.not_addressed) == (tally.unfinished, tally.not_addressed) == (1, 2)


def test_a_reply_anywhere_in_the_due_window_is_a_target_and_the_first_two_chunks_weigh_most():
    """A question ending at 3.0 s may be answered in any chunk ending by 4.2 s: chunks 7-9 say answer, the first
    two (the labelled chunk and the next) at ON_TIME_WEIGHT, the third once; chunk 10 (ends 4.4 s) is silent. A
    request ending at 6.0 s, with someone else talking from 6.9 s, keeps its window only up to there: chunk 17
    (6.8-7.2 s) is that speech's, silent. Without the rest of the window the last piece of a broken sentence, often
    read only once its late final text is in, had no target."""
    from listenloop.data.compose import labels_for
    from listenloop.data.manifest import NO_RESPONSE, Stream, Turn, TurnKind

    answer = CLASSES.index(Task.ANSWER)
    turns = (Turn("What time is it?", "<answer>", kind=TurnKind.QUESTION, t0=1.0, t1=3.0, task=Task.ANSWER),
             Turn("Tell me a joke.", "<answer>", kind=TurnKind.REQUEST, t0=5.0, t1=6.0, task=Task.ANSWER),
             Turn("Sarah, it's on the hook.", NO_RESPONSE, kind=TurnKind.CROSSTALK, t0=6.9, t1=8.0, addressed=False))
    stream = Stream("s", "test", turns, audio_path="s.flac", labels=labels_for(turns, 30))
    y, w, _ = train_targets.targets(stream, 30)
    assert np.flatnonzero(y).tolist() == [7, 8, 9, 15, 16]
    assert (y[[7, 8, 9, 15, 16]] == answer).all()
    assert w[7] == w[8] == w[15] == w[16] == train_targets.ON_TIME_WEIGHT and w[9] == 1.0
    assert w[17] == train_targets.NOT_ADDRESSED_WEIGHT  # a silent chunk of the speech not for us


def _constant_model(p_respond: float, threshold: float, open_threshold: float | None) -> DecisionModel:
    """A model whose P(answer) is p_respond on every input (zero weights; the output bias sets it)."""
    b2 = np.full(len(CLASSES), -40.0, np.float32)
    b2[0], b2[CLASSES.index(Task.ANSWER)] = np.log(1 - p_respond), np.log(p_respond)
    return DecisionModel(np.zeros(N_FEATURES, np.float32), np.ones(N_FEATURES, np.float32),
                         np.zeros((N_FEATURES, 2), np.float32), np.zeros(2, np.float32),
                         np.zeros((2, len(CLASSES)), np.float32), b2, threshold, {}, open_threshold)


def test_text_ending_on_an_open_word_needs_the_stricter_threshold_in_policy_and_training_alike():
    """With P(respond) 0.9, threshold 0.5 and 0.95 where the text ends open: "What time is it?" is answered, "What
    time does the" is not, unless the model has no second threshold. Training's simulate fires on the same chunks."""
    def run(model: DecisionModel, text: str) -> tuple[list[bool], list[bool]]:
        policy = LearnedPolicy(Mode.ASSISTANT, model, class_names=())
        extractor, features = FeatureExtractor(None), FeatureExtractor(None).init_state()
        state = policy.init_state()
        chunks = [_observation(0, True, partial=(0, text)), _observation(1, False, ended_at=0.4),
                  _observation(2, False), _observation(3, False)]
        fired = [policy.decide(obs, state).responds for obs in chunks]
        x = np.stack([extractor.step(obs, features) for obs in chunks])
        p = 1 - model.probs(x)[:, 0]
        return fired, train_tune.simulate(p, x, model.threshold, model.open_threshold).tolist()

    strict, plain = _constant_model(0.9, 0.5, 0.95), _constant_model(0.9, 0.5, None)
    assert run(strict, "What time is it?") == ([True, False, False, False],) * 2
    assert run(strict, "What time does the") == ([False] * 4,) * 2
    assert run(plain, "What time does the") == ([True, False, False, False],) * 2
    assert run(_constant_model(0.97, 0.5, 0.95), "What time does the")[0] == [True, False, False, False]


def test_the_open_text_threshold_is_saved_and_older_files_load_without_it(tmp_path):
    model = _constant_model(0.9, 0.6, 0.99)
    model.save(tmp_path / "m.npz")
    assert DecisionModel.load(tmp_path / "m.npz").open_threshold == pytest.approx(0.99)
    older = tmp_path / "older.npz"
    np.savez(older, format=np.int64(1), feature_names=np.array(FEATURE_NAMES), mean=model.mean, std=model.std,
             w1=model.w1, b1=model.b1, w2=model.w2, b2=model.b2, threshold=np.float64(0.6))
    back = DecisionModel.load(older)
    assert back.open_threshold is None and np.all(back.thresholds(np.ones((3, N_FEATURES))) == 0.6)


def test_a_change_to_perception_code_makes_a_new_feature_cache(tmp_path, monkeypatch):
    """Cached model inputs are only reused for the perception code that made them."""
    inputs = ("perception/asr.py", "audio/chunker.py", "decision/model/features.py", "decision/text/sentence.py",
              "decision/text/utterance.py", "decision/text/multilingual.py", "decision/text/address.py",
              "decision/text/lexicon.py", "decision/turn.py", "decision/text/lexicons/zh.toml",
              "decision/text/lexicons/en.toml")  # a lexicon's data too
    for rel in (*inputs, "decision/rules.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("A = 1\n")
    before = train_features.perception_fingerprint(tmp_path)
    (tmp_path / "decision/rules.py").write_text("A = 2\n")  # not perception: same inputs
    assert train_features.perception_fingerprint(tmp_path) == before
    for rel in inputs:
        (tmp_path / rel).write_text("A = 3\n")
        assert train_features.perception_fingerprint(tmp_path) != before
        before = train_features.perception_fingerprint(tmp_path)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("{}\n")
    key = train_features._cache_key(manifest, True, True)
    monkeypatch.setattr(train_features, "perception_fingerprint", lambda: "changed")
    assert train_features._cache_key(manifest, True, True) != key


def test_a_segment_heard_without_text_also_needs_the_stricter_threshold():
    """A piece too short for a partial ("She said the") shows no sentence at all: the stricter threshold holds."""
    model = _constant_model(0.9, 0.5, 0.95)
    extractor = FeatureExtractor(None)
    state = extractor.init_state()
    first = extractor.step(_observation(0, True), state)  # no segment known yet: nothing to judge the text by
    closed = extractor.step(_observation(1, False, ended_at=0.3, closed=(0, 0.0, 0.5, "")), state)
    assert model.thresholds(np.stack([first, closed])).tolist() == [0.5, 0.95]


def test_a_given_feature_cache_is_read_only_when_it_holds_this_manifests_streams(tmp_path):
    """`train decision --features FILE` reuses inputs extracted earlier; a cache of other streams or other features
    is refused rather than silently misaligned."""
    from listenloop.data.compose import labels_for
    from listenloop.data.manifest import ManifestError, Stream, Turn, TurnKind, write_manifest

    turns = (Turn("What time is it?", "<answer>", kind=TurnKind.QUESTION, t0=1.0, t1=2.0, task=Task.ANSWER),)
    manifest = tmp_path / "manifest.jsonl"
    write_manifest(manifest, [Stream("s1", "test", turns, audio_path="s1.flac", labels=labels_for(turns, 10))])
    x = np.random.default_rng(0).standard_normal((10, N_FEATURES)).astype(np.float32)
    good, other, narrow = tmp_path / "good.npz", tmp_path / "other.npz", tmp_path / "narrow.npz"
    np.savez(good, ids=np.array(["s1"]), x0=x)
    np.savez(other, ids=np.array(["s2"]), x0=x)
    np.savez(narrow, ids=np.array(["s1"]), x0=x[:, :-1])
    (features,) = train_features.load_features(manifest, progress=False, cache=good)
    np.testing.assert_array_equal(features.x, x)
    assert np.flatnonzero(features.y).tolist() == [5, 6, 7]  # targets come from the manifest: the reply at 2.0 s,
    # in time until 3.2 s
    for bad in (other, narrow, tmp_path / "missing.npz"):
        with pytest.raises(ManifestError):
            train_features.load_features(manifest, progress=False, cache=bad)


def test_training_reads_the_streams_the_decision_bench_perceived(tmp_path):
    """`train decision --observations`: the inputs read from the replays `bench decisions --observations` saved are
    the inputs extraction makes (the same perception, once); a stream the file lacks is named with the command that
    perceives it; on a slower machine's schedule (`--final-decode-s`) the final texts come in later."""
    from listenloop.bench import decisions as bench_decisions
    from listenloop.data.manifest import ManifestError

    sounds = tmp_path / "sounds"
    sounds.mkdir()
    mixing.write_flac(sounds / "rain.flac", (0.05 * np.random.default_rng(0).standard_normal(48000)).astype("f4"))
    parser = argparse.ArgumentParser()
    build.add_arguments(parser)
    out = tmp_path / "built"
    assert build.run(parser.parse_args(["--out", str(out), "--streams", "2", "--seconds", "16", "--seed", "3",
                                        "--engines", "espeak", "--sounds", str(sounds), "--quiet"])) == 0
    manifest = out / build.MANIFEST_NAME
    observations = out / offline_observations.OBSERVATIONS_NAME
    streams = bench_decisions.built_streams(manifest, None)
    bench_decisions.bench(streams[:1], progress=False, observations=observations)
    with pytest.raises(ManifestError, match="1 of 2 streams.*bench decisions"):
        train_features.features_from_observations(manifest, progress=False)
    bench_decisions.bench(streams, progress=False, observations=observations)  # perceives the second one only

    read = train_features.features_from_observations(manifest, progress=False)
    extracted = train_features.load_features(manifest, progress=False)
    assert [f.stream_id for f in read] == [f.stream_id for f in extracted] == [s.stream.id for s in streams]
    for a, b in zip(read, extracted, strict=True):
        np.testing.assert_allclose(a.x, b.x, atol=1e-5)
        np.testing.assert_array_equal(a.y, b.y)
    final = FEATURE_NAMES.index("txt_final@0")
    both = train_features.features_from_observations(manifest, schedules=(0.2, 1.2), progress=False)
    assert [f.stream_id for f in both] == [f.stream_id for f in read] * 2
    for a, b in zip(read, both, strict=False):
        np.testing.assert_array_equal(a.x, b.x)
    late = both[len(read):]
    first_on_time = [int(np.argmax(f.x[:, final] > 0)) for f in read if np.any(f.x[:, final] > 0)]
    first_later = [int(np.argmax(f.x[:, final] > 0)) for f in late if np.any(f.x[:, final] > 0)]
    assert first_on_time, "no final text in two streams of speech"
    assert len(first_later) == len(first_on_time)
    assert all(b > a for a, b in zip(first_on_time, first_later, strict=True))


def test_offline_finals_come_on_the_live_schedule_and_the_model_reads_them(speech_question):
    """Offline perception (training, bench) decodes every final but hands it out only from the chunk the live engine
    has it (FINAL_DECODE_S after the close); from that chunk the features read Whisper base's text, not tiny.en's.
    Rescheduled for a slower machine (bench decisions --final-decode-s), the same final comes later."""
    from conftest import pad

    from listenloop.decision.model.features import FEATURE_NAMES, FeatureExtractor
    from listenloop.perception.offline import FINAL_DECODE_S, build_perception, observe, rescheduled

    perception = build_perception(asr=True, sounds=False)
    replay = observe(perception, pad(speech_question, 0.6, 2.4))
    extractor = FeatureExtractor()
    state = extractor.init_state(Mode.ASSISTANT)
    closed, seen = None, []
    for i, obs in enumerate(replay):
        if obs.asr is not None and obs.asr.ended is not None:
            closed = (i, obs.asr.ended)
        x = extractor.step(obs, state)
        seen.append((i, closed is not None and closed[1].final.done(), x[FEATURE_NAMES.index("txt_final@0")]))
    assert closed is not None, "the question's segment never closed"
    index, ended = closed
    ready = [i for i, done, _ in seen if done]
    assert ready and (ready[0] + 1) * 0.4 >= ended.t1 + FINAL_DECODE_S and ready[0] >= index
    assert not any(done for i, done, _ in seen if i < ready[0])  # not before its chunk, however fast the decode was
    assert ended.final.result().text, "Whisper base heard nothing in a clear question"
    assert [f for i, _, f in seen if i == ready[0]] == [1.0] and all(f == 0.0 for i, _, f in seen if i < ready[0])
    assert state.turn.text == ended.final.result().text

    slow = rescheduled(replay, 1.2)
    late = [i for i, obs in enumerate(slow) if slow.observations[index].asr.ended.final.done()]
    assert late[0] > ready[0] and (late[0] + 1) * 0.4 >= ended.t1 + 1.2 > late[0] * 0.4
    assert slow.observations[index].asr.ended.final.result() == ended.final.result()
    assert [i for i, _ in enumerate(replay) if ended.final.done()][0] == ready[0]  # the replay itself is as it was


def test_a_model_of_several_networks_gives_the_mean_of_their_probabilities(tmp_path):
    """Training fits MEMBERS networks from consecutive seeds; the model averages their class probabilities. A file
    of one network (format 1, 2-D weights) is a stack of one."""
    rng = np.random.default_rng(5)
    mean, std = rng.standard_normal(N_FEATURES).astype(np.float32), np.ones(N_FEATURES, np.float32)
    nets = [(rng.standard_normal((N_FEATURES, 6)).astype(np.float32), rng.standard_normal(6).astype(np.float32),
             rng.standard_normal((6, len(CLASSES))).astype(np.float32),
             rng.standard_normal(len(CLASSES)).astype(np.float32)) for _ in range(3)]
    alone = [DecisionModel(mean, std, *net, threshold=0.5) for net in nets]
    stacked = DecisionModel(mean, std, *(np.stack([net[k] for net in nets]) for k in range(4)), threshold=0.5)
    assert stacked.members == 3 and all(m.members == 1 for m in alone)
    x = rng.standard_normal((7, N_FEATURES)).astype(np.float32)
    expected = np.mean([m.probs(x) for m in alone], axis=0)
    assert np.allclose(stacked.probs(x), expected, atol=1e-6) and np.allclose(stacked.probs(x[0]), expected[0])
    stacked.save(tmp_path / "m.npz")
    assert np.allclose(DecisionModel.load(tmp_path / "m.npz").probs(x), expected, atol=1e-6)
    bad = tmp_path / "bad.npz"  # members that do not agree in shape
    np.savez(bad, format=np.int64(2), feature_names=np.array(FEATURE_NAMES), mean=mean, std=std,
             w1=stacked.w1, b1=stacked.b1[:2], w2=stacked.w2, b2=stacked.b2, threshold=np.float64(0.5))
    with pytest.raises(DecisionModelError, match="weight shapes"):
        DecisionModel.load(bad)


def test_the_shipped_model_is_an_average_of_networks_fitted_from_consecutive_seeds():
    model = DecisionModel.load()
    assert model.members == train_fit.MEMBERS > 1
    assert model.meta.get("members") == str(train_fit.MEMBERS)


def test_the_model_reads_how_sure_the_recognizer_was_of_the_text_it_reads():
    """Doubt features follow the text the model reads: the partial's, then the closed segment's last partial, then
    the final's once it is in; a new segment starts with none. "night" was Whisper's guess for a sentence cut short."""
    from concurrent.futures import Future

    from listenloop.audio.chunker import Chunk
    from listenloop.perception.observation import (
        AsrResult,
        Confidence,
        FinalText,
        Observation,
        PartialText,
        SegmentEnd,
        VadResult,
    )

    def chunk(index: int, speech: bool, asr: AsrResult) -> Observation:
        vad = VadResult(np.full(12, 0.9 if speech else 0.05, np.float32), speech)
        return Observation(Chunk(index, np.zeros(6400, np.float32)), vad=vad, asr=asr)

    text = "The lights flickered during the night."
    guessed, heard = Confidence(mean=-0.5, last_word=-2.5, ending=-1.0), Confidence(-0.1, -0.05, -0.2)
    extractor = FeatureExtractor(None)
    state = extractor.init_state()
    x = extractor.step(chunk(0, True, AsrResult(partial=PartialText(0, 0.0, 0.4, text, "", guessed))), state)
    assert _feature(x, "txt_doubt_last_word@0") == pytest.approx(0.5)
    assert _feature(x, "txt_doubt_mean@0") == pytest.approx(0.1)
    assert _feature(x, "txt_doubt_ending@0") == pytest.approx(0.2)
    final: Future[FinalText] = Future()
    ended = SegmentEnd(0, 0.0, 0.7, np.zeros(0, np.float32), text, final, last_confidence=guessed)
    x = extractor.step(chunk(1, False, AsrResult(ended=ended)), state)
    assert _feature(x, "txt_doubt_last_word@0") == pytest.approx(0.5) and _feature(x, "txt_final@0") == 0.0
    final.set_result(FinalText(0, 0.0, 0.7, text, "en", confidence=heard))
    x = extractor.step(chunk(2, False, AsrResult()), state)
    assert _feature(x, "txt_final@0") == 1.0 and _feature(x, "txt_doubt_last_word@0") == pytest.approx(0.01)
    assert _feature(x, "txt_doubt_last_word@-1") == pytest.approx(0.5)  # the chunk before still read the partial
    x = extractor.step(chunk(3, True, AsrResult(partial=PartialText(1, 1.0, 1.4, "Sorry", ""))), state)
    assert _feature(x, "txt_doubt_last_word@0") == 0.0 and _feature(x, "txt_doubt_mean@0") == 0.0


def test_a_streams_copies_on_other_schedules_stay_in_one_fold(tiny_set):
    """`train decision --final-decode-s 0.2 1.0` reads every stream twice: a copy in the fitted folds while the other
    is held out would tune the threshold on a stream the model has seen."""
    from dataclasses import replace

    copies = tiny_set + [replace(f, x=f.x + 1.0) for f in tiny_set]
    fold = train_tune.fold_of(copies, seed=0)
    n = len(tiny_set)
    assert fold[:n] == fold[n:] and len(set(fold)) == train_tune.TUNING_FOLDS
    assert fold[:n] == train_tune.fold_of(tiny_set, seed=0)
    fitted, held = train_tune.split_streams(copies, seed=0)
    assert {f.stream_id for f in fitted}.isdisjoint({f.stream_id for f in held})
    assert len(held) == 2 * round(n * train_tune.VALIDATION_FRACTION)


@pytest.mark.parametrize(("argv", "message"), [
    (["--final-decode-s", "1.0"], "give --observations"),
    (["--observations", "--final-decode-s", "0.2", "-1"], "must be from 0 to"),
])
def test_a_schedule_of_finals_needs_saved_observations_and_a_sane_delay(tmp_path, capsys, argv, message):
    parser = argparse.ArgumentParser()
    train_decision.add_arguments(parser)
    args = parser.parse_args([str(tmp_path / "manifest.jsonl"), "--out", str(tmp_path / "m.npz"), *argv])
    assert train_decision.run(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "m.npz").exists()
