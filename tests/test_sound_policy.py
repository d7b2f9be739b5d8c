"""The proactive sound policy: what the defaults say about real sounds, policy files, cooldown and grouping."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from listenloop.audio.chunker import Chunk
from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.audio.decode import load_audio
from listenloop.decision.base import Decision
from listenloop.decision.sounds.policy_file import (
    CLASS_NAME_POLICY,
    Combine,
    PolicyError,
    RuleAction,
    learned_names,
    load_policy,
)
from listenloop.decision.sounds.sound_policy import SoundPolicy
from listenloop.perception.observation import Observation, SoundResult
from listenloop.perception.sounds import YamnetTagger, load_class_names
from listenloop.respond.base import ResponseContext, ResponseRequest
from listenloop.respond.sounds import SoundResponder, sound_responders
from listenloop.vocabulary import Emotion, Task

BARK = "streams/01_count_bark/sample01_02.wav"
COUGH = "streams/03_cough_music/sample03_01.wav"


@pytest.fixture(scope="module")
def tagger() -> YamnetTagger:
    return YamnetTagger()


@pytest.fixture(scope="module")
def names() -> tuple[str, ...]:
    return load_class_names() + learned_names()


def decisions(tagger: YamnetTagger, policy: SoundPolicy, x: np.ndarray) -> list[tuple[float, Decision]]:
    """Run tagger and policy chunk by chunk, as a session does; the responses with their chunk end times."""
    sounds, state = tagger.init_state(), policy.init_state()
    out = []
    for k in range(len(x) // SAMPLES_PER_CHUNK):
        chunk = Chunk(k, x[k * SAMPLES_PER_CHUNK : (k + 1) * SAMPLES_PER_CHUNK])
        d = policy.decide(Observation(chunk, sounds=tagger.step(chunk, sounds)), state)
        if d.responds:
            out.append((chunk.t1, d))
    return out


def placed(clips: list[tuple[float, np.ndarray]], seconds: float) -> np.ndarray:
    x = np.random.default_rng(1).normal(0, 3e-4, int(seconds * SAMPLE_RATE)).astype(np.float32)
    for at, clip in clips:
        x[int(at * SAMPLE_RATE) : int(at * SAMPLE_RATE) + len(clip)] += clip
    return x


def with_silence(clip: np.ndarray) -> np.ndarray:
    return placed([(1.0, clip)], 2.0 + len(clip) / SAMPLE_RATE)


def test_gunshots_get_one_urgent_alert_naming_them(tagger, shared_audio):
    out = decisions(tagger, SoundPolicy.load(), with_silence(load_audio(shared_audio / "sounds/gunshots.wav")))
    assert len(out) == 1, out
    t, d = out[0]
    assert d.task is Task.ALERT and d.emotion is Emotion.URGENT and d.payload["rule"] == "gunshot"
    assert t - 1.0 < 2.5  # decided within the first shots, not at the end of the burst
    text = "".join(SoundResponder(Task.ALERT).run(ResponseRequest("r1", d, 0, t, 0.0), ResponseContext()))
    assert "gunshot" in text.lower()


@pytest.mark.parametrize("name", ["sounds/rain.wav", "sounds/typing.wav", "sounds/piano.wav", "sounds/jazz_guitar.wav"])
def test_everyday_background_gets_no_response(tagger, shared_audio, name):
    assert decisions(tagger, SoundPolicy.load(), with_silence(load_audio(shared_audio / name))) == []


def test_a_squeak_that_reaches_the_alarms_operating_point_once_is_no_alarm(tagger, shared_audio):
    """dog.wav's squeaks reach learned:smoke_alarm 0.50 in one chunk; an alarm lasts, so the rule wants two."""
    out = decisions(tagger, SoundPolicy.load(), with_silence(load_audio(shared_audio / "sounds/dog.wav")))
    assert not [d for _, d in out if d.payload["rule"] == "smoke_alarm"], out
    once = decisions(tagger, SoundPolicy.load(texts=["[rules.smoke_alarm]\nmin_duration = 0.4\n"]),
                     with_silence(load_audio(shared_audio / "sounds/dog.wav")))
    assert [d.payload["rule"] for _, d in once] == ["smoke_alarm"]  # what one chunk would answer


def test_a_cough_gets_a_concerned_question(tagger, shared_audio):
    out = decisions(tagger, SoundPolicy.load(), with_silence(load_audio(shared_audio / COUGH)))
    assert [(d.task, d.emotion, d.payload["label"]) for _, d in out] == [(Task.ASK, Emotion.CONCERNED, "learned:cough")]
    text = "".join(sound_responders()[Task.ASK].run(ResponseRequest("r1", out[0][1], 0, 0.0, 0.0),
                                                    ResponseContext()))
    assert "cough" in text.lower() and text.endswith("?")


def test_repeated_barks_are_grouped_and_cooled_down(tagger, shared_audio):
    bark = load_audio(shared_audio / BARK)
    burst1 = [(2.0 + 1.2 * i, bark) for i in range(5)]  # five barks, 1.2 s apart: one episode
    burst2 = [(20.0 + 1.2 * i, bark) for i in range(3)]  # a new episode inside the 60 s cooldown: silent
    burst3 = [(75.0 + 1.2 * i, bark) for i in range(3)]  # after the cooldown: one more notice
    out = decisions(tagger, SoundPolicy.load(), placed(burst1 + burst2 + burst3, 82.0))
    assert [d.payload["rule"] for _, d in out] == ["dog", "dog"], out
    assert 2.0 < out[0][0] <= 3.2 and 75.0 < out[1][0] <= 76.2
    assert all(d.task is Task.NOTIFY for _, d in out)


def test_a_shorter_cooldown_lets_the_second_burst_through(tagger, shared_audio, tmp_path):
    bark = load_audio(shared_audio / BARK)
    override = tmp_path / "mine.toml"
    override.write_text('[rules.dog]\ncooldown = 5.0\nsay = "Woof: {label}!"\n')
    policy = SoundPolicy.load([override])
    out = decisions(tagger, policy, placed([(2.0 + 1.2 * i, bark) for i in range(4)] + [(16.0, bark)], 19.0))
    assert len(out) == 2 and out[1][0] > 16.0, out  # the lone bark 14 s later is past the 5 s cooldown
    rule = policy.spec.rule("dog")
    assert rule.cooldown == 5.0 and rule.action is RuleAction.NOTIFY  # merged key by key
    text = "".join(SoundResponder(Task.NOTIFY).run(ResponseRequest("r1", out[0][1], 0, 0.0, 0.0),
                                                   ResponseContext()))
    assert text == f"Woof: {out[0][1].payload['label']}!"


def test_an_override_can_silence_a_rule_or_move_a_class(names, tmp_path):
    f = tmp_path / "quiet.toml"
    f.write_text('[rules.dog]\naction = "ignore"\n\n[rules.pets]\naction = "ask"\nclasses = ["Bark"]\n')
    spec = load_policy([f], names)
    assert spec.rule("dog").action is RuleAction.IGNORE and "Bark" not in spec.rule("dog").classes
    assert spec.rule("pets").classes == ("Bark",) and spec.rule("pets").threshold == 0.5  # defaults apply
    assert spec.rule("gunshot").action is RuleAction.ALERT  # the rest of the defaults stay


def test_base_none_starts_from_an_empty_policy(names, tmp_path):
    f = tmp_path / "only.toml"
    f.write_text('base = "none"\n[defaults]\ncooldown = 10\n[rules.knock]\naction = "alert"\nclasses = ["Knock"]\n')
    spec = load_policy([f], names)
    assert [r.name for r in spec.rules] == ["knock"] and spec.rules[0].cooldown == 10.0


def test_a_session_policy_text_overrides_the_run_policy(names, tmp_path):
    f = tmp_path / "run.toml"
    f.write_text("[rules.cough]\nthreshold = 0.68\n")
    spec = load_policy([f], names, texts=["[rules.cough]\nthreshold = 0.82\n"])
    assert spec.rule("cough").threshold == 0.82


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[rules.dog]\naction = "notify"\nthreshhold = 0.5\n', 3, ["threshhold", "did you mean 'threshold'"]),
        ('[rules.x]\naction = "notify"\nclasses = [\n  "Dog",\n  "Smoke alarm",\n]\n', 5,
         ["Smoke alarm", "Smoke detector, smoke alarm"]),
        ('[rules.x]\nclasses = ["Dog"]\naction = "shout"\n', 3, ["action", "alert, ask, notify"]),
        ('[defaults]\nthreshold = 1.5\n', 2, ["threshold", "0 to 1"]),
        ('[rules.x]\naction = "alert"\nurgency = "panic"\nclasses = ["Dog"]\n', 3, ["urgency", "urgent"]),
        ('[rules.a]\naction = "alert"\nclasses = ["Dog"]\n[rules.b]\naction = "ask"\nclasses = ["Dog"]\n', 6,
         ["already in [rules.a]"]),
        ('[rules.x]\naction = "alert"\nclasses = "Dog"\n', 3, ["non-empty list"]),
        ('[rules.new]\nthreshold = 0.5\nclasses = ["Dog"]\n', 1, ["has no action"]),
        ('[rules.dog]\naction = "notify"\nclasses = ["Dog"\n', 3, ["not valid TOML", "Unclosed array"]),
    ],
)
def test_invalid_policy_files_fail_with_the_line_and_the_reason(names, tmp_path, text, line, words):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(PolicyError) as err:
        load_policy([f], names)
    message = str(err.value)
    assert str(f) in message and f"line {line}" in message, message
    for word in words:
        assert word in message, message


def test_a_missing_policy_file_is_a_clear_error(names, tmp_path):
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy([tmp_path / "nope.toml"], names)


def test_default_policy_covers_the_issue_defaults(names):
    spec = load_policy((), names)
    by_class = {c: r for r in spec.rules for c in r.classes}
    for name in ("learned:smoke_alarm", "Siren", "learned:glass_breaking", "learned:gunshot", "Screaming",
                 "learned:baby_crying"):
        assert by_class[name].action is RuleAction.ALERT and by_class[name].urgency is Emotion.URGENT, name
    for name in ("learned:cough", "learned:sneeze"):
        assert by_class[name].action is RuleAction.ASK and by_class[name].urgency is Emotion.CONCERNED
    for name in ("Doorbell", "Knock", "Telephone bell ringing", "learned:dog_bark"):
        assert by_class[name].action is RuleAction.NOTIFY, name
    for name in ("Music", "Rain", "Typing", "Traffic noise, roadway noise", "Wind", "Speech", "Television"):
        assert by_class[name].action is RuleAction.IGNORE, name
    assert "Typing" in spec.rule("cough").unless and "Clapping" in spec.rule("knock").unless
    assert spec.rule("baby_crying").min_duration == 0.8  # a cry lasts; a bleat reaches the point in one chunk
    classic = load_policy([CLASS_NAME_POLICY], names)  # alone: the AudioSet names only, as shipped before
    assert {c for r in classic.rules for c in r.classes}.isdisjoint(learned_names())
    assert classic.rule("cough").classes == ("Cough", "Sneeze") and classic.sources == (str(CLASS_NAME_POLICY),)


def test_a_class_the_tagger_is_sure_of_mutes_the_rules_that_name_it_in_unless(names):
    """The detector scores typing near its cough operating point; YAMNet is sure it is typing: no question."""
    policy = SoundPolicy(load_policy((), names), names)
    cough = scripted(names, [{}, {"learned:cough": 0.6}, {}])
    typing = scripted(names, [{}, {"learned:cough": 0.6, "Typing": 0.98}, {}])
    unsure = scripted(names, [{}, {"learned:cough": 0.6, "Typing": 0.68}, {}])
    assert respond_times(policy, cough) == [(0.8, "cough")]
    assert respond_times(policy, typing) == []
    assert respond_times(policy, unsure) == [(0.8, "cough")]
    unmuted = SoundPolicy(load_policy((), names, texts=["[rules.cough]\nunless = []\n"]), names)
    assert respond_times(unmuted, typing) == [(0.8, "cough")]


@pytest.mark.parametrize("text, words", [('[rules.cough]\nunless = "Typing"\n', "unless must be a list"),
                                         ('[rules.cough]\nunless = ["Typingg"]\n', "did you mean 'Typing'")])
def test_a_bad_unless_names_the_line(names, tmp_path, text, words):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(PolicyError, match="line 2") as e:
        load_policy([f], names)
    assert words in str(e.value)


def test_responder_stays_quiet_when_cancelled():
    d = Decision.respond(Task.ALERT, label="Siren", phrase="a siren")
    ctx = ResponseContext(cancelled=threading.Event())
    ctx.cancelled.set()
    assert list(SoundResponder(Task.ALERT).run(ResponseRequest("r1", d, 0, 0.0, 0.0), ctx)) == []
    fresh = "".join(SoundResponder(Task.ALERT).run(ResponseRequest("r1", d, 0, 0.0, 0.0), ResponseContext()))
    assert fresh == "That sounds like a siren. Please check it now."


def scripted(names: tuple[str, ...], chunks: list[dict[str, float]]) -> list[np.ndarray]:
    """Chunk score vectors with the given classes set (everything else 0): the policy's input, written by hand."""
    index = {n: i for i, n in enumerate(names)}
    out = []
    for chunk in chunks:
        scores = np.zeros(len(names), np.float32)
        for name, score in chunk.items():
            scores[index[name]] = score
        out.append(scores)
    return out


def respond_times(policy: SoundPolicy, chunks: list[np.ndarray]) -> list[tuple[float, str]]:
    state, out = policy.init_state(), []
    for k, scores in enumerate(chunks):
        chunk = Chunk(k, np.zeros(SAMPLES_PER_CHUNK, np.float32))
        d = policy.decide(Observation(chunk, sounds=SoundResult(scores)), state)
        if d.responds:
            out.append((round(chunk.t1, 1), d.payload["rule"]))
    return out


def test_weak_evidence_needs_a_second_chunk_a_confident_one_responds_at_once(names):
    policy = SoundPolicy(load_policy([CLASS_NAME_POLICY], names), names)
    assert policy.spec.rule("dog").min_duration == 0.8 and policy.spec.rule("dog").confident == 0.91
    weak_once = scripted(names, [{}, {"Dog": 0.5}, {}, {}])
    weak_twice = scripted(names, [{}, {"Dog": 0.5}, {}, {"Bark": 0.5}])  # same episode: the gap is 3 s
    sure = scripted(names, [{}, {"Bark": 0.91}, {}, {}])
    assert respond_times(policy, weak_once) == []
    assert respond_times(policy, weak_twice) == [(1.6, "dog")]
    assert respond_times(policy, sure) == [(0.8, "dog")]
    siren = scripted(names, [{"Siren": 0.95}] * 2 + [{}] * 3)  # whale song: brief and loud, never at once
    assert respond_times(policy, siren) == []


def test_sum_lets_related_classes_that_half_agree_add_up(names):
    half = scripted(names, [{"Dog": 0.32, "Bark": 0.32}] * 3)
    by_max = SoundPolicy(load_policy([CLASS_NAME_POLICY], names), names)
    by_sum = SoundPolicy(load_policy([CLASS_NAME_POLICY], names, texts=['[rules.dog]\ncombine = "sum"\n']), names)
    assert by_sum.spec.rule("dog").combine is Combine.SUM and by_max.spec.rule("dog").combine is Combine.MAX
    assert respond_times(by_max, half) == []
    assert respond_times(by_sum, half) == [(0.8, "dog")]  # 0.64 in two chunks


def test_an_unknown_combine_names_the_line(names, tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('[rules.dog]\n\ncombine = "mean"\n')
    with pytest.raises(PolicyError, match=r"line 3: combine must be one of max, sum, not 'mean'"):
        load_policy([f], names)


def test_a_step_written_rounded_in_a_file_means_that_step(names):
    """The model's 0.82 step is 0.8195: `confident = 0.82` must answer it at once, as the file says."""
    from listenloop.perception.yamnet_frontend import dequantize_scores

    step_082 = float(dequantize_scores(np.array([192], np.uint8))[0])
    assert 0.81 < step_082 < 0.82
    policy = SoundPolicy(load_policy([CLASS_NAME_POLICY], names, texts=["[rules.dog]\nconfident = 0.82\n"]), names)
    assert respond_times(policy, scripted(names, [{}, {"Bark": step_082}, {}, {}])) == [(0.8, "dog")]
    stricter = SoundPolicy(load_policy([CLASS_NAME_POLICY], names, texts=["[rules.dog]\nconfident = 0.91\n"]), names)
    assert respond_times(stricter, scripted(names, [{}, {"Bark": step_082}, {}, {}])) == []


def test_background_takes_a_steady_score_out_and_keeps_a_sound_that_rises_above_it(names):
    """A room the model keeps calling Dog 0.50 gets no response with `background`; a real bark over it still does."""
    steady = [{"Dog": 0.5}] * 15
    chunks = scripted(names, steady + [{"Dog": 0.98}] + [{"Dog": 0.5}] * 3)
    plain = SoundPolicy(load_policy([CLASS_NAME_POLICY], names, texts=["[rules.dog]\ncooldown = 1\n"]), names)
    relative = SoundPolicy(load_policy([CLASS_NAME_POLICY], names,
                                       texts=["[rules.dog]\ncooldown = 1\nbackground = 4\n"]), names)
    assert relative.spec.rule("dog").background == 4.0 and plain.spec.rule("dog").background == 0.0
    assert respond_times(plain, chunks)[0] == (0.8, "dog")  # the steady 0.50 itself is answered
    assert respond_times(relative, chunks) == [(6.4, "dog")]  # only the bark: (0.98 - 0.5) / (1 - 0.5) = 0.96
    state = relative.init_state()
    for k, scores in enumerate(chunks[:3]):
        relative.decide(Observation(Chunk(k, np.zeros(SAMPLES_PER_CHUNK, np.float32)), sounds=SoundResult(scores)),
                        state)
    state.reset()
    assert state.history == {}


def test_one_sound_gets_one_response_while_it_goes_on_a_more_urgent_one_still_speaks(names):
    """The tagger names one siren Siren, then Fire alarm: one alert. Once the siren's episode is over (its 3 s gap),
    a fire alarm is a new sound. A dog's barking does not silence a scream."""
    policy = SoundPolicy(load_policy([CLASS_NAME_POLICY], names), names)
    siren_then_fire = scripted(names, [{"Siren": 0.95}] * 4 + [{"Siren": 0.6, "Fire alarm": 0.95}] * 3 + [{}] * 10
                               + [{"Fire alarm": 0.95}] * 2)
    assert respond_times(policy, siren_then_fire) == [(1.2, "siren"), (7.2, "smoke_alarm")]
    bark_then_scream = scripted(names, [{"Bark": 0.95}] * 2 + [{"Bark": 0.9, "Screaming": 0.95}] * 2)
    assert respond_times(policy, bark_then_scream) == [(0.4, "dog"), (1.2, "scream")]
